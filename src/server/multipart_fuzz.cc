// Fuzz target: an audio upload, POST /v1/audio/transcriptions, as its route
// reads it: parse_transcription_ask (audio_request.h) takes the request's
// Content-Type (form_data_boundary) and body (parse_form_data,
// multipart.h), then checks every field. The parts are also parsed on their
// own, as the route does before its field checks can refuse them, and each
// part's bytes must be a slice of the body (multipart.h's promise: views,
// never copies).
//
// Input: the first line is the Content-Type header's value; the rest is the
// body. So
//
//   multipart/form-data; boundary=XyZ
//   --XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--XyZ--\r\n
//
// Corpus: fuzz/corpus/multipart (forms as curl -F, browsers and the OpenAI
// SDKs write them, with small WAV files). Replayed by ctest
// fuzz.replay.multipart.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/audio_request.h"
#include "server/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modelpool;
  using namespace modelpool::server;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string content_type(input.substr(0, eol));
  const Buffer body = Buffer::copy(input.substr(eol + 1));

  parse_transcription_ask(content_type, body).status().ignore();
  is_form_data(content_type);
  Result<std::string> boundary = form_data_boundary(content_type);
  if (!boundary.ok()) return 0;
  Result<std::vector<FormPart>> parts = parse_form_data(body, *boundary);
  if (!parts.ok()) return 0;
  const char* begin = body.view().data();
  const char* end = begin + body.size();
  for (const FormPart& part : *parts) {
    const char* p = part.data.view().data();
    if (!part.data.empty() && (p < begin || p + part.data.size() > end)) {
      std::fprintf(stderr, "part '%s' is not a slice of the body\n", part.name.c_str());
      std::abort();
    }
  }
  return 0;
}
