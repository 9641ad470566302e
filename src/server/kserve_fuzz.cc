// Fuzz target: the body of a KServe v2 infer request, routed as the server
// routes it: POST /v2/models/echo/infer through Api::handle, so the bytes
// take the request's own path (split_infer_body, parse_object,
// inputs_from_json with binary tensors and shared-memory inputs,
// parameters_from_json, output_choice_from_json), run on the sim echo model
// and come back through write_infer_response (JSON, binary and
// shared-memory outputs). Regions "r0" and "r1" are registered
// (src/testing/fuzz_api.h), so shared-memory parameters can resolve.
//
// Input: the first line is the value of Inference-Header-Content-Length
// (an empty line: no such header, the body is all JSON); the rest is the
// body, JSON then binary data. So
//
//   27
//   {"inputs": [...]}<binary bytes>
//
// Corpus: fuzz/corpus/kserve (JSON tensors of every datatype, Triton's
// binary tensor extension, shared-memory inputs and outputs, bad sizes).
// Replayed by ctest fuzz.replay.kserve.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/binary_tensors.h"
#include "testing/fuzz_api.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace modelpool;
  static fuzzing::FuzzApi fixture;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string_view header_length = input.substr(0, eol);
  server::HttpRequest request(server::http::verb::post, "/v2/models/echo/infer", 11);
  request.set(server::http::field::content_type, "application/json");
  if (!header_length.empty()) {
    // A field value holds no CR or LF (Beast's parser would refuse them).
    if (header_length.find('\r') != std::string_view::npos) return 0;
    request.set(server::kInferenceHeaderContentLength, header_length);
  }
  request.body() = std::string(input.substr(eol + 1));
  fixture.handle(std::move(request));
  fixture.restore();
  return 0;
}
