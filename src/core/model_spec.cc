#include "modelpool/backend.h"

namespace modelpool {

std::string ModelSpec::key() const {
  // Options are a sorted map, so equal specs give equal keys.
  std::string key = backend + ":" + path;
  for (const auto& [k, v] : options) key += ";" + k + "=" + v;
  return key;
}

}  // namespace modelpool
