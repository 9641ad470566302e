// Fuzz target: a model repository file, as `modelpool serve --config` reads
// it: parse_config (config.h) over toml++ (header-only: instrumented with
// the rest), with the sim backend and the process executor in the catalog,
// so every model entry is checked as the server checks it (options through
// the backend's schema, Backend::check, the executor's settings). The other
// engines are left out to keep the target small (llama would link
// llama.cpp): their options go through the same schema code (options.cc).
//
// Corpus: fuzz/corpus/config (examples/models.toml, the README's configs,
// every key of config.h). Replayed by ctest fuzz.replay.config.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "backends/sim/sim_backend.h"
#include "process/process_model.h"
#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modelpool;
  static const BackendCatalog* catalog = [] {
    auto* c = new BackendCatalog();
    c->add(std::make_shared<SimBackend>());
    c->add_executor(std::make_shared<process::ProcessExecutor>());
    return c;
  }();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  server::parse_config(text, "fuzz.toml", *catalog).status().ignore();
  return 0;
}
