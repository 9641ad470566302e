#include "server/binary_tensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include "server/request_fields.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string le_floats(std::initializer_list<float> fs) {
  std::string out;
  for (float f : fs) out.append(reinterpret_cast<const char*>(&f), sizeof(f));
  return out;
}

// A binary request: `header` (JSON text), then `binary`, split and read as
// the server does. The body Buffer is kept in *body for owner checks.
Result<std::vector<Tensor>> read_request(const std::string& header, const std::string& binary,
                                         Buffer* body = nullptr,
                                         std::optional<std::string> length = std::nullopt) {
  const Buffer all = Buffer::adopt(header + binary);
  if (body != nullptr) *body = all;
  auto split = split_infer_body(all, length ? *length : std::to_string(header.size()));
  if (!split.ok()) return split.status();
  auto doc = parse_object(split->json);
  if (!doc.ok()) return doc.status();
  return inputs_from_json(*doc, *split, static_cast<std::int64_t>(all.size()));
}

void expect_refused(const Result<std::vector<Tensor>>& r, std::string_view needle) {
  ASSERT_FALSE(r.ok()) << "accepted; want an error with: " << needle;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), needle))
      << r.status().message() << "\nwant: " << needle;
}

// The infer payload is copied once, from the socket into the body; the
// tensors the instance gets view that body.
TEST(BinaryTensorsTest, BinaryInputsAreSlicesOfTheBody) {
  const std::string floats = le_floats({1.5f, -2.0f, 3.25f, 0.0f});
  const std::string strings = encode_bytes_element("hi") + encode_bytes_element("");
  const std::string header =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"parameters":{"binary_data_size":16}},)"
      R"({"name":"j","datatype":"INT32","shape":[1],"data":[7]},)"
      R"({"name":"s","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":10}}]})";
  Buffer body;
  auto inputs = read_request(header, floats + strings, &body);
  ASSERT_TRUE(inputs.ok()) << inputs.status().message();
  ASSERT_EQ(inputs->size(), 3u);
  const Tensor& x = (*inputs)[0];
  const Tensor& s = (*inputs)[2];
  EXPECT_EQ(x.data, floats);
  EXPECT_EQ(s.data, strings);
  for (const Tensor* t : {&x, &s}) {
    SCOPED_TRACE(t->name);
    EXPECT_EQ(t->data.owner(), body.owner());  // shares the body's owner
    EXPECT_GE(t->data.data(), body.data());    // and points into it
    EXPECT_LE(t->data.data() + t->data.size(), body.data() + body.size());
  }
  EXPECT_EQ(x.data.data(), body.data() + header.size());
  EXPECT_EQ(s.data.data(), body.data() + header.size() + 16);
  // The JSON input has a buffer of its own.
  EXPECT_NE((*inputs)[1].data.owner(), body.owner());
  EXPECT_EQ((*inputs)[1].data.size(), 4u);
}

TEST(BinaryTensorsTest, WithoutTheHeaderTheBodyIsJson) {
  const Buffer body =
      Buffer::copy(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]})");
  auto split = split_infer_body(body, std::nullopt);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->json, body.view());
  EXPECT_FALSE(split->binary.has_value());
  auto doc = parse_object(split->json);
  ASSERT_TRUE(doc.ok());
  const std::string with_size =
      R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"parameters":{"binary_data_size":1}}]})";
  auto refused =
      inputs_from_json(parse_object(with_size).value(), InferBody{with_size, std::nullopt}, 100);
  expect_refused(refused, "input 'x': binary_data_size 1, but the request has no binary data");
}

TEST(BinaryTensorsTest, TheHeaderLengthMustBeAnIntegerWithinTheBody) {
  const std::string header =
      R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]})";
  for (const char* bad : {"abc", "-1", "", "12x", "+5", "1.0"}) {
    SCOPED_TRACE(bad);
    expect_refused(read_request(header, "", nullptr, std::string(bad)),
                   "Inference-Header-Content-Length: '");
  }
  expect_refused(read_request(header, "", nullptr, std::to_string(header.size() + 1)),
                 "Inference-Header-Content-Length: " + std::to_string(header.size() + 1) +
                     " is larger than the body (" + std::to_string(header.size()) + " bytes)");
  expect_refused(read_request(header, "", nullptr, "99999999999999999999999"),
                 "is larger than the body");
  expect_refused(read_request(header, "", nullptr, "0"),
                 "Inference-Header-Content-Length: 0 (a body of raw");
  // Within the body but cutting the JSON short.
  expect_refused(read_request(header, "", nullptr, "10"), "body is not valid JSON");
}

TEST(BinaryTensorsTest, SizesThatDoNotAddUpAreRefusedByName) {
  auto one = [](std::string_view type, std::string_view shape, std::string_view size) {
    return R"({"inputs":[{"name":"x","datatype":")" + std::string(type) + R"(","shape":)" +
           std::string(shape) + R"(,"parameters":{"binary_data_size":)" + std::string(size) +
           "}}]}";
  };
  expect_refused(read_request(one("FP32", "[4]", "12"), std::string(12, '\0')),
                 "input 'x': binary_data_size 12 does not match shape [4] of FP32, which takes 16 "
                 "bytes (4 x 4)");
  expect_refused(
      read_request(one("FP32", "[4]", "16"), std::string(12, '\0')),
      "input 'x': binary_data_size 16 runs past the end of the binary data (12 bytes left");
  expect_refused(read_request(one("FP32", "[1]", "4"), std::string(6, '\0')),
                 "the binary data has 2 bytes that no input takes (the inputs' binary_data_size "
                 "add up to 4 of "
                 "its 6 bytes)");
  expect_refused(read_request(one("BYTES", "[2]", "6"), encode_bytes_element("ab")),
                 "input 'x': binary_data_size 6 does not hold shape [2] of BYTES: element 1 has no "
                 "4-byte length");
  expect_refused(read_request(one("BYTES", "[1]", "7"), encode_bytes_element("ab") + "z"),
                 "of BYTES: 1 bytes are left after its 1 elements");
  expect_refused(read_request(one("BYTES", "[1]", "5"), encode_bytes_element("ab").substr(0, 5)),
                 "element 0 (2 bytes) runs past the end");
  expect_refused(read_request(one("INT8", "[1]", "-1"), "x"),
                 "input 'x': parameters.binary_data_size: expected an integer >= 0, got -1");
  expect_refused(read_request(one("INT8", "[1]", "\"1\""), "x"),
                 "binary_data_size: expected an integer >= 0");
  expect_refused(read_request(one("FP16", "[1]", "2"), "xx"),
                 "input 'x': datatype 'FP16' is not supported");
  // Two inputs: the second starts where the first ended.
  const std::string two =
      R"({"inputs":[{"name":"a","datatype":"INT16","shape":[1],"parameters":{"binary_data_size":2}},)"
      R"({"name":"b","datatype":"INT16","shape":[2],"parameters":{"binary_data_size":4}}]})";
  expect_refused(read_request(two, "abcde"),
                 "input 'b': binary_data_size 4 runs past the end of the binary data "
                 "(3 bytes left after the inputs before it)");
  auto ok = read_request(two, "abcdef");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ((*ok)[0].data, "ab");
  EXPECT_EQ((*ok)[1].data, "cdef");
}

TEST(BinaryTensorsTest, OtherInputParametersAndDataWithASizeAreRefused) {
  expect_refused(read_request(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1],)"
                              R"("parameters":{"binary_data_size":1}}]})",
                              "x"),
                 "input 'x': both data and binary_data_size: give one");
  expect_refused(read_request(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],)"
                              R"("parameters":{"classification":1}}]})",
                              ""),
                 "input 'x': parameters.classification: not supported by this server");
  // Shared memory on a server without --allow-client-shm (no registry).
  expect_refused(read_request(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],)"
                              R"("parameters":{"shared_memory_region":"r","shared_memory_byte_size":1}}]})",
                              ""),
                 "input 'x': client shared memory is disabled: start the server with --allow-client-shm");
}

// A response as a client reads it: the JSON header and the bytes after it.
struct Read {
  json::object header;
  std::string binary;
  bool is_binary = false;
};

Read respond(const std::vector<Tensor>& outputs, const std::string& request,
             Parameters params = {}) {
  auto doc = parse_object(request);
  EXPECT_TRUE(doc.ok());
  auto choice = output_choice_from_json(*doc, &params);
  EXPECT_TRUE(choice.ok()) << choice.status().message();
  auto r = write_infer_response(json::object{{"model_name", "m"}}, outputs, *choice);
  EXPECT_TRUE(r.ok()) << r.status().message();
  Read read;
  read.is_binary = r->header_length != 0;
  const std::size_t n = read.is_binary ? r->header_length : r->body.size();
  read.header = parse_object(std::string_view(r->body).substr(0, n)).value();
  read.binary = r->body.substr(n);
  return read;
}

TEST(BinaryTensorsTest, BinaryOutputsFollowTheJsonHeader) {
  const std::string floats = le_floats({1.5f, 2.5f});
  const std::vector<Tensor> outputs{{"x", "FP32", {2}, Buffer::copy(floats)},
                                    {"t", "BYTES", {1}, Buffer::adopt(encode_bytes_element("hi"))}};
  // JSON unless asked.
  Read json_only = respond(outputs, "{}");
  EXPECT_FALSE(json_only.is_binary);
  EXPECT_EQ(json::serialize(json_only.header.at("outputs").at(0).at("data")), "[1.5E0,2.5E0]");

  // Every output, through the request parameter.
  Parameters all;
  all.set("binary_data_output", true);
  Read binary = respond(outputs, "{}", all);
  ASSERT_TRUE(binary.is_binary);
  EXPECT_EQ(binary.binary, floats + encode_bytes_element("hi"));
  const json::object& x = binary.header.at("outputs").at(0).as_object();
  EXPECT_FALSE(x.contains("data"));
  EXPECT_EQ(x.at("parameters").at("binary_data_size").to_number<std::int64_t>(), 8);
  EXPECT_EQ(binary.header.at("outputs")
                .at(1)
                .at("parameters")
                .at("binary_data_size")
                .to_number<std::int64_t>(),
            6);

  // Per output, selecting and ordering them; binary_data wins over the default.
  Read some = respond(outputs,
                      R"({"outputs":[{"name":"t","parameters":{"binary_data":false}},)"
                      R"({"name":"x","parameters":{"binary_data":true}}]})",
                      all);
  ASSERT_TRUE(some.is_binary);
  EXPECT_EQ(some.binary, floats);
  ASSERT_EQ(some.header.at("outputs").as_array().size(), 2u);
  EXPECT_EQ(some.header.at("outputs").at(0).at("name"), "t");
  EXPECT_EQ(json::serialize(some.header.at("outputs").at(0).at("data")), R"(["hi"])");
  EXPECT_EQ(some.header.at("outputs").at(1).at("name"), "x");

  Read one = respond(outputs, R"({"outputs":[{"name":"x"}]})");
  EXPECT_FALSE(one.is_binary);
  EXPECT_EQ(one.header.at("outputs").as_array().size(), 1u);
}

// Seen while fixing what the fuzzer found (fuzz/crashes/kserve: an error
// quoting bytes that are not UTF-8): a binary BYTES input echoed as a JSON
// output wrote its bytes into a JSON string as they were, so the answer was
// not JSON when they were not UTF-8.
TEST(BinaryTensorsTest, BytesThatAreNotUtf8GoOnlyAsBinaryData) {
  const std::vector<Tensor> outputs{
      {"t", "BYTES", {2}, Buffer::adopt(encode_bytes_element("ok") + encode_bytes_element("\xff\xfe"))}};
  auto doc = parse_object("{}");
  Parameters params;
  auto choice = output_choice_from_json(*doc, &params);
  ASSERT_TRUE(choice.ok());
  auto r = write_infer_response(json::object{{"model_name", "m"}}, outputs, *choice);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "output 't': BYTES element 1 is not UTF-8 text"))
      << r.status().message();

  Parameters binary;
  binary.set("binary_data_output", true);
  Read read = respond(outputs, "{}", binary);
  ASSERT_TRUE(read.is_binary);
  EXPECT_EQ(read.binary, outputs[0].data.view());
}

TEST(BinaryTensorsTest, OutputChoicesTheServerDoesNotImplementAreRefused) {
  auto refused = [](const std::string& request, Parameters params, std::string_view needle) {
    auto choice = output_choice_from_json(parse_object(request).value(), &params);
    ASSERT_FALSE(choice.ok()) << request;
    EXPECT_EQ(choice.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(choice.status().message(), needle))
        << choice.status().message() << "\nwant: " << needle;
  };
  refused(R"({"outputs":[{"name":"y","parameters":{"classification":3}}]})", {},
          "output 'y': parameters.classification: not supported by this server");
  refused(R"({"outputs":[{"name":"y","parameters":{"shared_memory_region":"r","shared_memory_byte_size":4}}]})",
          {}, "output 'y': client shared memory is disabled: start the server with --allow-client-shm");
  refused(R"({"outputs":[{"name":"y","parameters":{"binary_data":1}}]})", {},
          "output 'y': parameters.binary_data: expected true or false");
  refused(R"({"outputs":[{"name":"y"},{"name":"y"}]})", {}, "outputs: 'y' is asked for twice");
  refused(R"({"outputs":[{"nom":"y"}]})", {}, "outputs[0].nom: not supported");
  refused(R"({"outputs":{"name":"y"}})", {}, "outputs: expected an array");
  Parameters p;
  p.set("binary_data_output", std::string("yes"));
  refused("{}", p, "binary_data_output");

  // The server's parameter is not passed on to the model.
  Parameters mine;
  mine.set("binary_data_output", false);
  mine.set("max_tokens", std::int64_t{3});
  auto choice = output_choice_from_json(json::object{}, &mine);
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(mine.find("binary_data_output"), nullptr);
  EXPECT_NE(mine.find("max_tokens"), nullptr);

  // An output the model did not produce.
  auto asked =
      output_choice_from_json(parse_object(R"({"outputs":[{"name":"z"}]})").value(), &mine);
  ASSERT_TRUE(asked.ok());
  auto r = write_infer_response({}, {{"x", "INT8", {1}, Buffer::copy("a")}}, *asked);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "outputs: the model produced no output 'z' (it produced 'x')");
}

}  // namespace
}  // namespace modelpool::server
