// Whether the models' compute threads fit the machine's cores. An engine
// whose threads work in lock-step (llama.cpp: they meet at a barrier every
// operation) crawls when other models' busy threads hold the cores, since
// each step waits for its slowest thread to get one: a 2-thread LLM beside 4
// busy speech instances on 2 cores ran its steps in seconds (the soak).
//
//   std::string w = compute_fit_warning(config.models, cores);
//   if (!w.empty()) log.warn("{}", w);
//
// Each model's threads come from its executor and backend
// (Executor::compute_threads): nothing here knows an engine.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "modelpool/backend.h"
#include "server/config.h"

namespace modelpool::server {

// Empty when no model runs threads in lock-step, or all the models' threads
// at their peak are at most `cores`. Otherwise one line naming each
// lock-step model, every model's threads and what to change. Models whose
// backend or executor the catalog lacks are left out (loading names them).
std::string compute_fit_warning(const std::vector<ModelConfig>& models, std::size_t cores,
                                const BackendCatalog& catalog = default_catalog());

}  // namespace modelpool::server
