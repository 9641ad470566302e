// The recommendation as configuration: the [[model]] table a user pastes
// into their config file, and the ModelConfig that --verify loads.
#pragma once

#include <string>

#include "cli/advise/recommend.h"
#include "modelpool/backend.h"
#include "server/config.h"

namespace modelpool::cli::advise {

// `original` served `mode` (exclusive/batched) in `isolation` at `size`
// instances or slots. A text model keeps its tokens per sequence: batched,
// the context is size x (the original's context per slot).
server::ModelConfig sized_config(const server::ModelConfig& original, const std::string& mode,
                                 const std::string& isolation, std::size_t size);

// `original` with the chosen way and size: mode, isolation, instances
// (exclusive: min = max = size) or slots (batched: one instance), and a
// queue long enough for the goal's callers.
server::ModelConfig recommended_config(const server::ModelConfig& original, const Option& chosen,
                                       const Goal& goal);

// `config` as a TOML [[model]] table (with [model.options] typed by the
// backend's option schema, and [model.process] when isolated), that
// parse_config reads back to the same settings.
std::string model_block(const server::ModelConfig& config, const BackendInfo& info);

}  // namespace modelpool::cli::advise
