#include "server/binary_tensors.h"

#include <charconv>
#include <limits>

#include "server/request_fields.h"
#include "server/shm_parameters.h"
#include "server/tensor_json.h"

namespace modelpool::server {

namespace json = boost::json;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<InferBody> split_infer_body(const Buffer& body,
                                   std::optional<std::string_view> header_length) {
  if (!header_length) return InferBody{body.view(), std::nullopt};
  const std::string name(kInferenceHeaderContentLength);
  const std::string_view text = trim(*header_length);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc::result_out_of_range) {
    n = std::numeric_limits<std::uint64_t>::max();  // a run of digits: larger than any body
  } else if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return invalid_argument_error(name + ": '" + std::string(text.substr(0, 40)) +
                                  "' is not a decimal integer >= 0");
  }
  if (n > body.size()) {
    return invalid_argument_error(name + ": " + std::string(text.substr(0, 40)) +
                                  " is larger than the body (" + std::to_string(body.size()) +
                                  " bytes)");
  }
  if (n == 0) {
    return invalid_argument_error(name +
                                  ": 0 (a body of raw binary data without a JSON header) is not "
                                  "supported: send the JSON header and its length");
  }
  return InferBody{body.view().substr(0, n), body.slice(n, body.size() - n)};
}

Result<std::vector<Tensor>> inputs_from_json(const json::object& request, const InferBody& body,
                                             std::int64_t max_elements, const ShmRegistry* shm) {
  const json::value* inputs = request.if_contains("inputs");
  if (!inputs || !inputs->is_array() || inputs->as_array().empty()) {
    return invalid_argument_error("inputs: required non-empty array");
  }
  std::optional<Buffer> rest = body.binary;  // what the inputs have not taken yet
  std::vector<Tensor> tensors;
  tensors.reserve(inputs->as_array().size());
  for (std::size_t i = 0; i < inputs->as_array().size(); ++i) {
    auto t = tensor_from_json(inputs->as_array()[i], i, max_elements, rest ? &*rest : nullptr, shm);
    if (!t.ok()) return t.status();
    tensors.push_back(std::move(*t));
  }
  if (rest && !rest->empty()) {
    const std::size_t total = body.binary->size();
    return invalid_argument_error(
        "the binary data has " + std::to_string(rest->size()) +
        " bytes that no input takes (the inputs' binary_data_size add up to " +
        std::to_string(total - rest->size()) + " of its " + std::to_string(total) + " bytes)");
  }
  return tensors;
}

Result<OutputChoice> output_choice_from_json(const json::object& request, Parameters* parameters,
                                             const ShmRegistry* shm) {
  OutputChoice choice;
  if (Status s = parameters->read_bool("binary_data_output", &choice.binary_by_default); !s.ok())
    return s;
  parameters->erase("binary_data_output");
  const json::value* outputs = request.if_contains("outputs");
  if (outputs == nullptr || outputs->is_null()) return choice;
  if (!outputs->is_array()) return invalid_argument_error("outputs: expected an array of objects");
  choice.outputs.emplace();
  for (std::size_t i = 0; i < outputs->as_array().size(); ++i) {
    const std::string where = "outputs[" + std::to_string(i) + "]";
    const json::object* o = outputs->as_array()[i].if_object();
    if (o == nullptr) return invalid_argument_error(where + ": expected an object");
    Fields fields(*o);
    fields.only({"name", "parameters"}, where + ".");
    if (!fields.status().ok()) return fields.status();
    const json::value* name = o->if_contains("name");
    if (name == nullptr || !name->is_string())
      return invalid_argument_error(where + ".name: required string");
    OutputChoice::Wanted wanted{std::string(name->get_string()), std::nullopt, std::nullopt};
    for (const OutputChoice::Wanted& w : *choice.outputs) {
      if (w.name == wanted.name)
        return invalid_argument_error("outputs: '" + w.name + "' is asked for twice");
    }
    const std::string at = "output '" + wanted.name + "'";
    if (const json::value* params = o->if_contains("parameters"); params && !params->is_null()) {
      if (!params->is_object())
        return invalid_argument_error(at + ": parameters: expected an object");
      Fields p(params->as_object());
      p.only({"binary_data", kShmRegion, kShmOffset, kShmByteSize}, at + ": parameters.");
      if (!p.status().ok()) return p.status();
      if (const json::value* b = params->as_object().if_contains("binary_data");
          b && !b->is_null()) {
        if (!b->is_bool())
          return invalid_argument_error(at + ": parameters.binary_data: expected true or false");
        wanted.binary = b->get_bool();
      }
      auto shm_params = shm_parameters_from_json(params->as_object(), at);
      if (!shm_params.ok()) return shm_params.status();
      if (shm_params->has_value()) {
        if (wanted.binary.value_or(false)) {
          return invalid_argument_error(at + ": both binary_data and " + kShmRegion + ": give one");
        }
        // Resolved now: the request owns the mapping until it ends.
        auto slice = resolve_shm(shm, **shm_params, at);
        if (!slice.ok()) return slice.status();
        wanted.shm = std::move(*slice);
      }
    }
    choice.outputs->push_back(std::move(wanted));
  }
  return choice;
}

namespace {

// A shared-memory output as the response names it: no "data"; where its
// bytes went, and how many.
json::object tensor_to_shm_json(const Tensor& t, const ShmSlice& shm) {
  json::object o = tensor_to_json(t, true);
  o["parameters"] = json::object{{kShmRegion, shm.region()},
                                 {kShmOffset, shm.offset()},
                                 {kShmByteSize, t.data.size()}};
  return o;
}

}  // namespace

Result<InferResponse> write_infer_response(json::object head, const std::vector<Tensor>& outputs,
                                           const OutputChoice& choice) {
  struct Chosen {
    const Tensor* tensor;
    bool binary;
    const ShmSlice* shm;  // null: in the body
  };
  std::vector<Chosen> chosen;
  if (!choice.outputs) {
    for (const Tensor& t : outputs) chosen.push_back({&t, choice.binary_by_default, nullptr});
  } else {
    for (const OutputChoice::Wanted& w : *choice.outputs) {
      const Tensor* found = nullptr;
      for (const Tensor& t : outputs) {
        if (t.name == w.name) found = &t;
      }
      if (found == nullptr) {
        std::string names;
        for (const Tensor& t : outputs) names += (names.empty() ? "'" : ", '") + t.name + "'";
        return invalid_argument_error("outputs: the model produced no output '" + w.name +
                                      "' (it produced " + (names.empty() ? "none" : names) + ")");
      }
      const ShmSlice* shm = w.shm ? &*w.shm : nullptr;
      chosen.push_back({found, shm == nullptr && w.binary.value_or(choice.binary_by_default), shm});
    }
  }
  // Every shared-memory output must fit before any is written, and every
  // JSON one be JSON.
  for (const Chosen& c : chosen) {
    if (c.shm == nullptr && !c.binary) {
      if (Status s = check_json_data(*c.tensor); !s.ok()) return s;
    }
    if (c.shm != nullptr && c.tensor->data.size() > c.shm->size()) {
      return invalid_argument_error(
          "output '" + c.tensor->name + "': shared memory region '" + c.shm->region() + "': " + kShmByteSize +
          " " + std::to_string(c.shm->size()) + " should be at least " + std::to_string(c.tensor->data.size()) +
          " bytes to hold the results");
    }
  }
  json::array out;
  std::size_t binary_bytes = 0;
  bool any_binary = false;
  for (const Chosen& c : chosen) {
    if (c.shm != nullptr) {
      c.shm->write(c.tensor->data.view());
      out.push_back(tensor_to_shm_json(*c.tensor, *c.shm));
      continue;
    }
    out.push_back(tensor_to_json(*c.tensor, c.binary));
    if (c.binary) binary_bytes += c.tensor->data.size();
    any_binary = any_binary || c.binary;
  }
  head["outputs"] = std::move(out);
  InferResponse response{json::serialize(head), 0};
  if (!any_binary) return response;
  response.header_length = response.body.size();
  response.body.reserve(response.body.size() + binary_bytes);
  for (const Chosen& c : chosen) {
    if (c.binary) response.body.append(c.tensor->data.view());
  }
  return response;
}

}  // namespace modelpool::server
