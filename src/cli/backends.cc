// Adding an engine (or an executor): its folder under src/backends/ (or
// src/), its library in CMakeLists.txt, and one line here.
#include "cli/backends.h"

#include "backends/llama/llama_backend.h"
#include "backends/sim/sim_backend.h"
#include "backends/stt/stt_backend.h"
#include "backends/tts/tts_backend.h"
#include "process/process_model.h"

namespace modelpool::cli {

void register_builtin_backends(BackendCatalog& catalog) {
  catalog.add(std::make_shared<SimBackend>());
  catalog.add(std::make_shared<llama::LlamaBackend>());
  catalog.add(std::make_shared<stt::SttBackend>());
  catalog.add(std::make_shared<tts::TtsBackend>());
  catalog.add_executor(std::make_shared<process::ProcessExecutor>());
}

}  // namespace modelpool::cli
