// The catalogue of built-in backends, by name.
#include <string>

#include "backends/llama/llama_backend.h"
#include "backends/sim/sim_backend.h"
#include "modelpool/backend.h"

namespace modelpool {

Result<std::shared_ptr<Backend>> make_backend(std::string_view name) {
  if (name == "sim") return std::shared_ptr<Backend>(std::make_shared<SimBackend>());
  if (name == "llama") return std::shared_ptr<Backend>(std::make_shared<llama::LlamaBackend>());
  return not_found_error("unknown backend '" + std::string(name) + "' (known: sim, llama)");
}

}  // namespace modelpool
