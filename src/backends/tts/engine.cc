#include "backends/tts/engine.h"

namespace modelpool::tts {

Status unknown_voice_error(std::string_view engine, std::string_view voice,
                           const std::vector<std::string>& available) {
  std::string list;
  for (const std::string& v : available) {
    list += list.empty() ? "" : ", ";
    list += v;
  }
  return invalid_argument_error("unknown " + std::string(engine) + " voice '" + std::string(voice) +
                                "'; available: " + list);
}

}  // namespace modelpool::tts
