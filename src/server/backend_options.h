// The backend options of a configured model ([model.options]), read in one
// place for both the config check at start and the model's construction, so
// a typo is refused before anything loads.
//
//   llama: prefill_chunk (integer >= 1), fault_step_delay_ms (integer >= 0;
//          fault injection for tests, batched mode: every decoding step
//          also sleeps)
//   sim:   see backends/sim/sim_backend.h
#pragma once

#include "backends/llama/llm_service.h"
#include "modelpool/status.h"
#include "server/config.h"

namespace modelpool::server {

// Applies a llama model's options to `options`. kInvalidArgument naming a
// bad or unknown key.
Status apply_llama_options(const ModelConfig& model, LlmOptions* options);

// Checks `model`'s options against its backend without loading anything.
// kInvalidArgument naming a bad or unknown key; ok for an unknown backend
// (check_model reports that).
Status check_backend_options(const ModelConfig& model);

}  // namespace modelpool::server
