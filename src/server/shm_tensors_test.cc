// Infer requests whose inputs and outputs live in client shared memory
// (tensor_json.h, binary_tensors.h, shm_parameters.h).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>

#include "server/binary_tensors.h"
#include "server/model_manager.h"
#include "server/request_fields.h"
#include "server/shm_parameters.h"
#include "server/shm_regions.h"
#include "testing/client_shm.h"

namespace modelpool::server {
namespace {

using namespace std::chrono_literals;
using test_support::ClientShm;
namespace json = boost::json;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Reads a JSON request's inputs as the server does, with `regions`.
Result<std::vector<Tensor>> read_inputs(const std::string& request, const ShmRegistry* regions) {
  const Buffer body = Buffer::copy(request);
  auto split = split_infer_body(body, std::nullopt);
  if (!split.ok()) return split.status();
  auto doc = parse_object(split->json);
  if (!doc.ok()) return doc.status();
  return inputs_from_json(*doc, *split, static_cast<std::int64_t>(body.size()), regions);
}

// One input "x" of `datatype` and `shape` with `params` (JSON object text)
// and, when given, `extra` fields.
std::string one_input(std::string_view datatype, std::string_view shape, std::string_view params,
                      std::string_view extra = "") {
  return R"({"inputs":[{"name":"x","datatype":")" + std::string(datatype) + R"(","shape":)" +
         std::string(shape) + R"(,"parameters":)" + std::string(params) + std::string(extra) +
         "}]}";
}

void expect_refused(const Status& s, StatusCode code, std::string_view needle) {
  ASSERT_FALSE(s.ok()) << "accepted; want an error with: " << needle;
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_TRUE(contains(s.message(), needle)) << s.message() << "\nwant: " << needle;
}

// A client's object with one region "r" registered: bytes [256, 256 + 64).
struct Fixture {
  ClientShm client{4096};
  ShmRegistry regions;
  Fixture() { EXPECT_TRUE(regions.register_region("r", client.key(), 256, 64).ok()); }
  char* region() const { return client.data() + 256; }
};

TEST(ShmTensorsTest, AnInputViewsItsRegionWithoutACopy) {
  Fixture f;
  const float values[4] = {1.5f, -2.0f, 3.25f, 0.0f};
  std::memcpy(f.region() + 16, values, sizeof(values));
  auto inputs = read_inputs(
      one_input(
          "FP32", "[2,2]",
          R"({"shared_memory_region":"r","shared_memory_offset":16,"shared_memory_byte_size":16})"),
      &f.regions);
  ASSERT_TRUE(inputs.ok()) << inputs.status().to_string();
  const Tensor& x = (*inputs)[0];
  EXPECT_EQ(x.data.view(), std::string_view(reinterpret_cast<const char*>(values), 16));
  // The same bytes the region holds: the client's next write shows through.
  f.region()[16] = 7;
  EXPECT_EQ(x.data.data()[0], 7);
  // Offset defaults to 0; 2.0 is an integer.
  inputs = read_inputs(
      one_input("UINT8", "[64]", R"({"shared_memory_region":"r","shared_memory_byte_size":64.0})"),
      &f.regions);
  ASSERT_TRUE(inputs.ok()) << inputs.status().to_string();
  EXPECT_EQ((*inputs)[0].data.size(), 64u);
}

TEST(ShmTensorsTest, BytesInputsAreCheckedLikeBinaryOnes) {
  Fixture f;
  const std::string packed = encode_bytes_element("hi") + encode_bytes_element("");
  std::memcpy(f.region(), packed.data(), packed.size());
  auto ok = read_inputs(
      one_input("BYTES", "[2]", R"({"shared_memory_region":"r","shared_memory_byte_size":10})"),
      &f.regions);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ((*ok)[0].data, packed);
  expect_refused(
      read_inputs(
          one_input("BYTES", "[3]", R"({"shared_memory_region":"r","shared_memory_byte_size":10})"),
          &f.regions)
          .status(),
      StatusCode::kInvalidArgument,
      "input 'x': shared_memory_byte_size 10 does not hold shape [3] of BYTES");
  expect_refused(
      read_inputs(
          one_input("BYTES", "[4]", R"({"shared_memory_region":"r","shared_memory_byte_size":12})"),
          &f.regions)
          .status(),
      StatusCode::kInvalidArgument, "it cannot hold 4 4-byte lengths");
}

TEST(ShmTensorsTest, EveryBadRangeIsRefusedNamingTheInputAndTheRegion) {
  Fixture f;
  struct Case {
    std::string params;
    std::string shape;
    StatusCode code;
    std::string needle;
  };
  const std::vector<Case> cases = {
      // offset beyond the region
      {R"({"shared_memory_region":"r","shared_memory_offset":65,"shared_memory_byte_size":0})",
       "[0]", StatusCode::kInvalidArgument,
       "input 'x': shared memory region 'r': offset 65 + byte_size 0 is past its end (64 bytes)"},
      // offset + size beyond
      {R"({"shared_memory_region":"r","shared_memory_offset":60,"shared_memory_byte_size":8})",
       "[2]", StatusCode::kInvalidArgument,
       "input 'x': shared memory region 'r': offset 60 + byte_size 8 is past its end"},
      {R"({"shared_memory_region":"r","shared_memory_offset":9223372036854775807,"shared_memory_byte_size":8})",
       "[2]", StatusCode::kInvalidArgument, "is past its end"},
      // size against shape
      {R"({"shared_memory_region":"r","shared_memory_byte_size":12})", "[4]",
       StatusCode::kInvalidArgument,
       "input 'x': shared_memory_byte_size 12 does not match shape [4] of FP32, which takes 16 "
       "bytes (4 x 4)"},
      {R"({"shared_memory_region":"r","shared_memory_byte_size":16})", "[1000000000000]",
       StatusCode::kInvalidArgument,
       "shared_memory_byte_size 16 does not match shape [1000000000000] of FP32"},
      // negative and wrong-typed parameters
      {R"({"shared_memory_region":"r","shared_memory_offset":-1,"shared_memory_byte_size":4})",
       "[1]", StatusCode::kInvalidArgument,
       "input 'x': parameters.shared_memory_offset: expected an integer >= 0, got -1"},
      {R"({"shared_memory_region":"r","shared_memory_offset":"8","shared_memory_byte_size":4})",
       "[1]", StatusCode::kInvalidArgument,
       "parameters.shared_memory_offset: expected an integer >= 0, got \"8\""},
      {R"({"shared_memory_region":"r","shared_memory_byte_size":-4})", "[1]",
       StatusCode::kInvalidArgument,
       "parameters.shared_memory_byte_size: expected an integer >= 0, got -4"},
      {R"({"shared_memory_region":"r","shared_memory_byte_size":4.5})", "[1]",
       StatusCode::kInvalidArgument,
       "parameters.shared_memory_byte_size: expected an integer >= 0, got 4.5"},
      {R"({"shared_memory_region":7,"shared_memory_byte_size":4})", "[1]",
       StatusCode::kInvalidArgument,
       "parameters.shared_memory_region: expected the name of a registered region, got 7"},
      {R"({"shared_memory_region":"","shared_memory_byte_size":4})", "[1]",
       StatusCode::kInvalidArgument,
       "parameters.shared_memory_region: expected the name of a registered region"},
      // a region without a size, a size or an offset without a region
      {R"({"shared_memory_region":"r"})", "[1]", StatusCode::kInvalidArgument,
       "input 'x': parameters.shared_memory_byte_size: required with shared_memory_region"},
      {R"({"shared_memory_byte_size":4})", "[1]", StatusCode::kInvalidArgument,
       "parameters.shared_memory_byte_size without shared_memory_region"},
      {R"({"shared_memory_offset":4})", "[1]", StatusCode::kInvalidArgument,
       "parameters.shared_memory_offset without shared_memory_region"},
      // two sources at once
      {R"({"shared_memory_region":"r","shared_memory_byte_size":4,"binary_data_size":4})", "[1]",
       StatusCode::kInvalidArgument,
       "input 'x': both binary_data_size and shared_memory_region: give one"},
      // an unknown region (Triton: NOT_FOUND)
      {R"({"shared_memory_region":"nope","shared_memory_byte_size":4})", "[1]",
       StatusCode::kNotFound, "input 'x': Unable to find shared memory region: 'nope'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.params);
    expect_refused(read_inputs(one_input("FP32", c.shape, c.params), &f.regions).status(), c.code,
                   c.needle);
  }
  // Region and data both set.
  expect_refused(
      read_inputs(
          one_input("FP32", "[1]", R"({"shared_memory_region":"r","shared_memory_byte_size":4})",
                    R"(,"data":[1.0])"),
          &f.regions)
          .status(),
      StatusCode::kInvalidArgument, "input 'x': both data and shared_memory_region: give one");
  // Client shared memory off: no registry.
  expect_refused(
      read_inputs(
          one_input("FP32", "[1]", R"({"shared_memory_region":"r","shared_memory_byte_size":4})"),
          nullptr)
          .status(),
      StatusCode::kInvalidArgument, "input 'x': " + std::string(kShmDisabled));
}

// A 100 MB tensor reaches the instance, and comes back from the echo, as the
// bytes of the client's region: the server copies none of it.
TEST(ShmTensorsTest, AHundredMegabyteInputReachesTheInstanceWithoutACopy) {
  constexpr std::size_t kSize = 100 << 20;
  ClientShm client(kSize + 4096);
  ShmRegistry regions;
  ASSERT_TRUE(regions.register_region("big", client.key(), 4096, kSize).ok());
  const char* region = regions.slice("big", 0, 0)->data();
  // The JSON body is tiny: the element bound is the region's size, not it.
  auto inputs =
      read_inputs(one_input("UINT8", "[" + std::to_string(kSize) + "]",
                            R"({"shared_memory_region":"big","shared_memory_byte_size":)" +
                                std::to_string(kSize) + "}"),
                  &regions);
  ASSERT_TRUE(inputs.ok()) << inputs.status().to_string();
  EXPECT_EQ((*inputs)[0].data.data(), region);

  ModelConfig echo;
  echo.name = "echo";
  echo.backend = "sim";
  ModelManager models({echo});
  ASSERT_TRUE(models.load("echo").ok());
  Request request;
  request.inputs = std::move(*inputs);
  CollectSink sink;
  Result<InferStats> r = models.find("echo")->model().infer(request, sink, Clock::now() + 10s, {});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(sink.outputs.size(), 1u);
  // The instance saw the mapping itself, kept alive by the tensor.
  EXPECT_EQ(sink.outputs[0].data.data(), region);
  EXPECT_EQ(sink.outputs[0].data.size(), kSize);
  request = Request();
  regions.unregister("big");
  client.data()[4096] = 'A';
  EXPECT_EQ(sink.outputs[0].data.data()[0], 'A');  // still mapped: the output holds it
}

// ---------------------------------------------------------------- outputs

Result<OutputChoice> choose(const std::string& request, const ShmRegistry* regions) {
  Parameters params;
  return output_choice_from_json(parse_object(request).value(), &params, regions);
}

std::vector<Tensor> outputs_y(std::string bytes) {
  return {Tensor{"y",
                 "INT32",
                 {static_cast<std::int64_t>(bytes.size() / 4)},
                 Buffer::adopt(std::move(bytes))}};
}

TEST(ShmTensorsTest, AnOutputIsWrittenIntoItsRegionAndComesBackWithoutData) {
  Fixture f;
  const std::int32_t ints[3] = {7, -8, 9};
  const std::string bytes(reinterpret_cast<const char*>(ints), sizeof(ints));
  auto choice = choose(
      R"({"outputs":[{"name":"y","parameters":{"shared_memory_region":"r","shared_memory_offset":8,"shared_memory_byte_size":16}}]})",
      &f.regions);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  EXPECT_TRUE(choice->writes_shm());
  // Unregistered between reading the request and answering it: still written.
  f.regions.unregister("r");
  auto response = write_infer_response({{"model_name", "m"}}, outputs_y(bytes), *choice);
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  EXPECT_EQ(response->header_length, 0u);  // JSON: nothing binary follows
  EXPECT_EQ(std::string_view(f.region() + 8, 12), bytes);
  const json::object head = parse_object(response->body).value();
  const json::object& y = head.at("outputs").at(0).as_object();
  EXPECT_EQ(y.at("name"), "y");
  EXPECT_EQ(y.at("datatype"), "INT32");
  EXPECT_EQ(json::serialize(y.at("shape")), "[3]");
  EXPECT_FALSE(y.contains("data"));
  EXPECT_EQ(
      json::serialize(y.at("parameters")),
      R"({"shared_memory_region":"r","shared_memory_offset":8,"shared_memory_byte_size":12})");
}

TEST(ShmTensorsTest, SharedMemoryOutputsIgnoreTheBinaryDefaultAndMixWithOthers) {
  Fixture f;
  auto choice = choose(
      R"({"outputs":[{"name":"y","parameters":{"shared_memory_region":"r","shared_memory_byte_size":4}},{"name":"z"}]})",
      &f.regions);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  choice->binary_by_default = true;
  std::vector<Tensor> outputs = outputs_y(std::string("\1\0\0\0", 4));
  outputs.push_back(Tensor{"z", "INT8", {2}, Buffer::copy("\5\6")});
  auto response = write_infer_response({}, outputs, *choice);
  ASSERT_TRUE(response.ok()) << response.status().to_string();
  ASSERT_EQ(response->header_length, response->body.size() - 2);  // only z is binary
  EXPECT_EQ(response->body.substr(response->header_length), "\5\6");
  EXPECT_EQ(f.region()[0], 1);
}

TEST(ShmTensorsTest, AnOutputTooLargeForItsRegionIsRefusedAndNothingIsWritten) {
  Fixture f;
  auto choice = choose(
      R"({"outputs":[{"name":"z","parameters":{"shared_memory_region":"r","shared_memory_byte_size":64}},)"
      R"({"name":"y","parameters":{"shared_memory_region":"r","shared_memory_offset":32,"shared_memory_byte_size":8}}]})",
      &f.regions);
  ASSERT_TRUE(choice.ok()) << choice.status().to_string();
  std::vector<Tensor> outputs = outputs_y(std::string(12, 'y'));
  outputs.push_back(Tensor{"z", "INT8", {2}, Buffer::copy("zz")});
  auto response = write_infer_response({}, outputs, *choice);
  expect_refused(response.status(), StatusCode::kInvalidArgument,
                 "output 'y': shared memory region 'r': shared_memory_byte_size 8 should be at "
                 "least 12 bytes to "
                 "hold the results");
  EXPECT_EQ(f.region()[0], 0);  // z, which fits, was not written either
  EXPECT_EQ(f.region()[32], 0);
}

TEST(ShmTensorsTest, BadOutputParametersAreRefusedByName) {
  Fixture f;
  const std::string p = R"({"outputs":[{"name":"y","parameters":)";
  expect_refused(
      choose(
          p + R"({"binary_data":true,"shared_memory_region":"r","shared_memory_byte_size":4}}]})",
          &f.regions)
          .status(),
      StatusCode::kInvalidArgument,
      "output 'y': both binary_data and shared_memory_region: give one");
  expect_refused(
      choose(p + R"({"shared_memory_region":"nope","shared_memory_byte_size":4}}]})", &f.regions)
          .status(),
      StatusCode::kNotFound, "output 'y': Unable to find shared memory region: 'nope'");
  expect_refused(
      choose(
          p + R"({"shared_memory_region":"r","shared_memory_offset":61,"shared_memory_byte_size":4}}]})",
          &f.regions)
          .status(),
      StatusCode::kInvalidArgument,
      "output 'y': shared memory region 'r': offset 61 + byte_size 4 is past its end");
  expect_refused(
      choose(p + R"({"shared_memory_region":"r"}}]})", &f.regions).status(),
      StatusCode::kInvalidArgument,
      "output 'y': parameters.shared_memory_byte_size: required with shared_memory_region");
  expect_refused(
      choose(p + R"({"shared_memory_region":"r","shared_memory_byte_size":"4"}}]})", &f.regions)
          .status(),
      StatusCode::kInvalidArgument, "parameters.shared_memory_byte_size: expected an integer >= 0");
  expect_refused(choose(p + R"({"classification":2}}]})", &f.regions).status(),
                 StatusCode::kInvalidArgument,
                 "output 'y': parameters.classification: not supported by this server");
  expect_refused(
      choose(p + R"({"shared_memory_region":"r","shared_memory_byte_size":4}}]})", nullptr)
          .status(),
      StatusCode::kInvalidArgument, "output 'y': " + std::string(kShmDisabled));
  // binary_data false says nothing against a region.
  EXPECT_TRUE(
      choose(
          p + R"({"binary_data":false,"shared_memory_region":"r","shared_memory_byte_size":4}}]})",
          &f.regions)
          .ok());
}

}  // namespace
}  // namespace modelpool::server
