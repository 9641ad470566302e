#include "cli/configured_model.h"

namespace modelpool::cli {

Result<server::ModelConfig> configured_model(const std::string& path, const std::string& name) {
  Result<server::ServerConfig> loaded = server::load_config_file(path);
  if (!loaded.ok()) return loaded.status();
  for (const server::ModelConfig& m : loaded->models) {
    if (m.name == name || (name.empty() && loaded->models.size() == 1)) return m;
  }
  return not_found_error(path + " has no model '" + name + "'");
}

}  // namespace modelpool::cli
