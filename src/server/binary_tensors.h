// An inference request's body into tensors, and its outputs into a response
// body: KServe v2 JSON, with Triton's binary tensor data extension
// ("binary_tensor_data") both ways.
//
// Request. Without the header `Inference-Header-Content-Length` the body is
// JSON. With `Inference-Header-Content-Length: N` the body is N bytes of
// JSON, then the binary data: each input whose "parameters" hold
// "binary_data_size": K takes the next K bytes, in the order of "inputs"
// (little-endian, row-major, unpadded; BOOL one byte per element; BYTES a
// 4-byte length and the bytes per element). Such an input's Tensor::data is a
// slice of the body: its bytes are not copied between the socket's buffer
// and the instance. kInvalidArgument (400) naming what is wrong when N is not
// a decimal integer, is larger than the body or is 0 (a raw body without
// JSON, which needs model metadata this server does not keep); when an
// input's K is not what its shape and datatype take or runs past the binary
// data; when bytes are left that no input takes (tensor_json.h has the
// per-input rules).
//
// Response. Outputs are JSON ("data") unless the request asks for binary:
// the request parameter "binary_data_output": true for every output, or per
// output "outputs": [{"name": "y", "parameters": {"binary_data": B}}], which
// wins over the request's. "outputs", when given, also selects the outputs
// that come back, in its order (a name the model did not produce is a 400).
// With at least one binary output the body is the JSON header, where each
// binary output has "parameters": {"binary_data_size": K} and no "data", then
// those outputs' bytes in the header's order; it is sent as
// application/octet-stream with `Inference-Header-Content-Length` set to the
// header's length.
//
// Shared memory (Triton's system_shared_memory; shm_regions.h,
// shm_parameters.h). An input may take its data from a registered region
// instead (tensor_json.h). An output asked for with "parameters":
// {"shared_memory_region": R, "shared_memory_offset": O,
// "shared_memory_byte_size": S} is written into bytes [O, O + S) of R after
// the run (one copy) and comes back without "data", with "parameters":
// {"shared_memory_region": R, "shared_memory_offset": O,
// "shared_memory_byte_size": the bytes written}; neither binary_data_output
// nor binary_data applies to it (binary_data: true with a region is a 400).
// The region is resolved when the request is read, so unregistering it
// meanwhile does not stop the write. An output larger than S is a 400 naming
// the output, the region and both sizes, and then nothing is written.
// Any other output parameter (classification) is refused by name rather than
// ignored.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/buffer.h"
#include "server/shm_regions.h"

namespace modelpool::server {

// The request and response header naming the JSON part's length.
inline constexpr std::string_view kInferenceHeaderContentLength = "Inference-Header-Content-Length";

// A request body split into its JSON and its binary data.
struct InferBody {
  std::string_view json;  // views the body
  // The bytes after the JSON, a slice of the body; null when the request
  // has no Inference-Header-Content-Length.
  std::optional<Buffer> binary;
};

// Splits `body` by `header_length`, the value of the request's
// Inference-Header-Content-Length (nullopt when it has none: all JSON).
// REQUIRES: `body` outlives the result's `json`.
Result<InferBody> split_infer_body(const Buffer& body,
                                   std::optional<std::string_view> header_length);

// The request's "inputs" (a non-empty array) as tensors, binary ones viewing
// `body.binary`, shared-memory ones viewing their region in `shm` (null:
// client shared memory is off); every binary byte must be taken.
// `max_elements` bounds each JSON or binary input's element count
// (tensor_json.h).
Result<std::vector<Tensor>> inputs_from_json(const boost::json::object& request,
                                             const InferBody& body, std::int64_t max_elements,
                                             const ShmRegistry* shm = nullptr);

// What the request asked of its outputs.
struct OutputChoice {
  struct Wanted {
    std::string name;
    std::optional<bool> binary;  // nullopt: the request's default
    std::optional<ShmSlice> shm;  // where to write it; owns the region's mapping
  };
  bool binary_by_default = false;              // the request parameter binary_data_output
  std::optional<std::vector<Wanted>> outputs;  // "outputs"; nullopt: every output

  // Whether some output is to be written into shared memory.
  bool writes_shm() const {
    if (outputs) {
      for (const Wanted& w : *outputs) {
        if (w.shm) return true;
      }
    }
    return false;
  }
};

// Reads "outputs" from `request` and the request parameter
// binary_data_output from `parameters`, which then loses it (it is the
// server's, not the model's), resolving shared-memory outputs in `shm` (null:
// client shared memory is off, and such an output is a 400). kInvalidArgument
// naming the field; kNotFound naming an unregistered region.
Result<OutputChoice> output_choice_from_json(const boost::json::object& request,
                                             Parameters* parameters,
                                             const ShmRegistry* shm = nullptr);

// A response body and how to send it.
struct InferResponse {
  std::string body;
  // 0: JSON (application/json). Otherwise the JSON header's length: send
  // application/octet-stream with Inference-Header-Content-Length.
  std::size_t header_length = 0;
};

// `head` (model_name, id...) with "outputs" added as `choice` says, then the
// binary outputs' bytes; shared-memory outputs are written into their
// regions. kInvalidArgument naming an output asked for that is not among
// `outputs`, one larger than its region's range, or a JSON one whose BYTES
// are not UTF-8 text (check_json_data, tensor_json.h); nothing is written
// into a region then.
Result<InferResponse> write_infer_response(boost::json::object head,
                                           const std::vector<Tensor>& outputs,
                                           const OutputChoice& choice);

}  // namespace modelpool::server
