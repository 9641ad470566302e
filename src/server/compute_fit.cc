#include "server/compute_fit.h"

#include "modelpool/executor.h"
#include "modelpool/model.h"

namespace modelpool::server {

std::string compute_fit_warning(const std::vector<ModelConfig>& models, std::size_t cores,
                                const BackendCatalog& catalog) {
  std::size_t busy = 0;
  std::string each;        // "'llm' 2, 'stt' 4"
  std::string lock_steps;  // "'llm' (2 threads)"
  for (const ModelConfig& m : models) {
    auto backend = catalog.find(m.backend);
    auto executor = catalog.find_executor(m.isolation);
    if (!backend.ok() || !executor.ok()) continue;
    const ComputeThreads t = (*executor)->compute_threads(**backend, model_spec(m), serve_options(m, catalog));
    busy += t.busy;
    each += (each.empty() ? "'" : ", '") + m.name + "' " + std::to_string(t.busy);
    if (t.lock_step > 1) {
      lock_steps += (lock_steps.empty() ? "'" : ", '") + m.name + "' (" + std::to_string(t.lock_step) + " threads)";
    }
  }
  if (lock_steps.empty() || busy <= cores) return {};
  return "compute threads: the models keep up to " + std::to_string(busy) + " busy (" + each + ") on " +
         std::to_string(cores) + " cores, and " + lock_steps +
         " computes in lock-step: its steps wait for every thread to get a core. Give it fewer `threads`, or "
         "the other models fewer instances";
}

}  // namespace modelpool::server
