// Adding an engine: its folder under src/backends/, its library in
// CMakeLists.txt, and one line here.
#include "cli/backends.h"

#include "backends/llama/llama_backend.h"
#include "backends/sim/sim_backend.h"

namespace modelpool::cli {

void register_builtin_backends(BackendCatalog& catalog) {
  catalog.add(std::make_shared<SimBackend>());
  catalog.add(std::make_shared<llama::LlamaBackend>());
}

}  // namespace modelpool::cli
