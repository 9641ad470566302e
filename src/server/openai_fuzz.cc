// Fuzz target: the JSON body of an OpenAI request, through the parsers its
// routes call first: parse_completion_ask for POST /v1/chat/completions
// (chat) and POST /v1/completions, parse_speech_ask for POST
// /v1/audio/speech. Every input goes through all three: their field
// readers (request_fields.h) and JSON parser (json_parse.h) are shared, and
// a body meant for one route is often a near miss for another.
//
// Corpus: fuzz/corpus/openai (bodies as the OpenAI SDKs and curl users
// write them: messages, stop lists, logit_bias, response_format with a JSON
// schema, speech requests). Replayed by ctest fuzz.replay.openai.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/audio_request.h"
#include "server/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modelpool::server;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  parse_completion_ask(body, /*chat=*/true).status().ignore();
  parse_completion_ask(body, /*chat=*/false).status().ignore();
  parse_speech_ask(body).status().ignore();
  return 0;
}
