// One model of a config file, for the commands that work on a configured
// model (bench --config, advise).
#pragma once

#include <string>

#include "modelpool/status.h"
#include "server/config.h"

namespace modelpool::cli {

// The [[model]] named `name` in the config file at `path`; with an empty
// name, the file's only model. Errors name the file: its parse errors
// (kInvalidArgument), a file that cannot be read (kNotFound), or
// "FILE has no model 'NAME'" (kNotFound).
Result<server::ModelConfig> configured_model(const std::string& path, const std::string& name);

}  // namespace modelpool::cli
