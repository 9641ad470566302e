// The engines this program serves and the executors it runs them with: the
// composition root's one list.
#pragma once

#include "modelpool/backend.h"

namespace modelpool::cli {

// Registers every built-in backend and executor in `catalog` (one line each).
void register_builtin_backends(BackendCatalog& catalog);

}  // namespace modelpool::cli
