// The engines this program serves: the composition root's one list.
#pragma once

#include "modelpool/backend.h"

namespace modelpool::cli {

// Registers every built-in backend in `catalog` (one line per engine).
void register_builtin_backends(BackendCatalog& catalog);

}  // namespace modelpool::cli
