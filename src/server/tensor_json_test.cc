#include "server/tensor_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "server/json_parse.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

json::value parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = parse_json(text, ec);
  EXPECT_FALSE(ec) << text << ": " << ec.message();
  return v;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A one-dimensional input "x" of `datatype` holding `data` (JSON text).
Result<Tensor> input(std::string_view datatype, std::string_view data,
                     std::int64_t max_elements = 1 << 20) {
  const json::value d = parse(data);
  const std::size_t n = d.as_array().size();
  const std::string text = "{\"name\":\"x\",\"datatype\":\"" + std::string(datatype) +
                           "\",\"shape\":[" + std::to_string(n) +
                           "],\"data\":" + std::string(data) + "}";
  return tensor_from_json(parse(text), 0, max_elements);
}

// The tensor's data back as JSON text, through the serializer.
std::string output_data(const Tensor& t) {
  return json::serialize(tensor_to_json(t).at("data"));
}

// `data` through input and output: the JSON text of what comes back.
std::string round_trip(std::string_view datatype, std::string_view data) {
  Result<Tensor> t = input(datatype, data);
  EXPECT_TRUE(t.ok()) << datatype << " " << data << ": " << t.status().message();
  return t.ok() ? output_data(*t) : "";
}

// Expects `data` refused with a message containing `needle`.
void expect_refused(std::string_view datatype, std::string_view data, const std::string& needle) {
  Result<Tensor> t = input(datatype, data);
  ASSERT_FALSE(t.ok()) << datatype << " " << data << " was accepted";
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(t.status().message(), needle))
      << t.status().message() << "\nwant: " << needle;
}

TEST(TensorJsonTest, EveryIntegerTypeTakesItsBoundsAndRefusesOnePast) {
  struct Bounds {
    const char* type;
    const char* min;
    const char* max;
    const char* below;
    const char* above;
  };
  for (const Bounds& b : std::vector<Bounds>{
           {"INT8", "-128", "127", "-129", "128"},
           {"INT16", "-32768", "32767", "-32769", "32768"},
           {"INT32", "-2147483648", "2147483647", "-2147483649", "2147483648"},
           {"INT64", "-9223372036854775808", "9223372036854775807", "-9223372036854775809",
            "9223372036854775808"},
           {"UINT8", "0", "255", "-1", "256"},
           {"UINT16", "0", "65535", "-1", "65536"},
           {"UINT32", "0", "4294967295", "-1", "4294967296"},
           {"UINT64", "0", "18446744073709551615", "-1", "18446744073709551616"},
       }) {
    SCOPED_TRACE(b.type);
    const std::string both = std::string("[") + b.min + "," + b.max + "]";
    EXPECT_EQ(round_trip(b.type, both), both);
    expect_refused(b.type, std::string("[0,") + b.below + "]", "input 'x': data[1]: ");
    expect_refused(b.type, std::string("[") + b.above + "]", "input 'x': data[0]: ");
  }
  // The message names the input, the element and the range.
  Result<Tensor> t = input("INT8", "[1,2,3,1000]");
  EXPECT_EQ(t.status().message(), "input 'x': data[3]: 1000 is out of range for INT8 [-128, 127]");
  expect_refused("UINT64", "[18446744073709551616]",
                 "is out of range for UINT64 [0, 18446744073709551615]");
  expect_refused("INT64", "[9223372036854775808]",
                 "out of range for INT64 [-9223372036854775808, 9223372036854775807]");
}

TEST(TensorJsonTest, IntegersAreStoredExactly) {
  Result<Tensor> t = input("INT64", "[-9223372036854775808, 9223372036854775807, -1]");
  ASSERT_TRUE(t.ok());
  std::int64_t v[3];
  ASSERT_EQ(t->data.size(), sizeof(v));
  std::memcpy(v, t->data.data(), sizeof(v));
  EXPECT_EQ(v[0], std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(v[1], std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(v[2], -1);
  t = input("UINT64", "[18446744073709551615]");
  ASSERT_TRUE(t.ok());
  std::uint64_t u = 0;
  std::memcpy(&u, t->data.data(), 8);
  EXPECT_EQ(u, std::numeric_limits<std::uint64_t>::max());
  t = input("INT8", "[-24]");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(static_cast<std::int8_t>(t->data.data()[0]), -24);
}

TEST(TensorJsonTest, DoublesForIntegerTypesOnlyWhenExactIntegersInRange) {
  EXPECT_EQ(round_trip("INT16", "[1e3, 1.0, -2.0, -0.0]"), "[1000,1,-2,0]");
  EXPECT_EQ(round_trip("UINT8", "[2.55e2]"), "[255]");
  EXPECT_EQ(round_trip("INT64", "[9007199254740991.0]"), "[9007199254740991]");  // 2^53 - 1
  expect_refused("INT8", "[1e3]", "data[0]: 1000 is out of range for INT8 [-128, 127]");
  expect_refused("INT32", "[2.5]", "data[0]: 2.5 is not an integer (INT32)");
  expect_refused("UINT8", "[-1.0]", "data[0]: -1 is out of range for UINT8");
  // From 2^53 on a double may not be the number that was written.
  expect_refused("INT64", "[9007199254740993.0]", "data[0]: 9007199254740992 is not exact");
  expect_refused("INT64", "[1e19]", "out of range for INT64");
  expect_refused("INT64", "[-1e19]", "out of range for INT64");
  expect_refused("UINT64", "[1.8446744073709552e19]", "out of range for UINT64");
  expect_refused("INT32", "[1e400]", "data[0]: the number overflows a double");
  expect_refused("INT32", "[\"7\"]", "data[0]: expected an integer for INT32, got \"7\"");
  expect_refused("INT32", "[true]", "expected an integer for INT32, got true");
}

TEST(TensorJsonTest, Bool) {
  EXPECT_EQ(round_trip("BOOL", "[true,false]"), "[true,false]");
  expect_refused("BOOL", "[true,1]", "data[1]: expected true or false for BOOL, got 1");
  expect_refused("BOOL", "[\"true\"]", "expected true or false for BOOL");
}

TEST(TensorJsonTest, Fp32RangeIsWhatRoundsToAFiniteFloat) {
  const float kMax = std::numeric_limits<float>::max();
  Result<Tensor> t =
      input("FP32", "[3.4028235e38, -3.4028235e38, 3.4028235677973362e38, 1e-50, 7]");
  ASSERT_TRUE(t.ok()) << t.status().message();
  float f[5];
  std::memcpy(f, t->data.data(), sizeof(f));
  EXPECT_EQ(f[0], kMax);  // FLT_MAX as printed: a little above it, rounds to it
  EXPECT_EQ(f[1], -kMax);
  EXPECT_EQ(f[2], kMax);  // just below the halfway point to 2^128
  EXPECT_EQ(f[3], 0.0f);  // underflow rounds, as any float conversion does
  EXPECT_EQ(f[4], 7.0f);
  expect_refused("FP32", "[0,1e39]",
                 "input 'x': data[1]: 1e+39 is out of range for FP32 (|x| <= 3.4028235e+38)");
  expect_refused("FP32", "[-1e39]", "out of range for FP32");
  expect_refused("FP32", "[3.4028235677973366e38]",
                 "out of range for FP32");  // halfway: rounds to infinity
  expect_refused("FP32", "[1e400]", "data[0]: the number overflows a double");
}

TEST(TensorJsonTest, Fp64TakesEveryFiniteDoubleAndNothingElse) {
  Result<Tensor> t =
      input("FP64", "[1.7976931348623157e308, -1.7976931348623157e308, 5e-324, 0.1]");
  ASSERT_TRUE(t.ok()) << t.status().message();
  double d[4];
  std::memcpy(d, t->data.data(), sizeof(d));
  EXPECT_EQ(d[0], std::numeric_limits<double>::max());
  EXPECT_EQ(d[1], -std::numeric_limits<double>::max());
  EXPECT_EQ(d[2], std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(d[3], 0.1);
  expect_refused("FP64", "[1e400]", "data[0]: the number overflows a double");
  expect_refused("FP64", "[-1e400]", "overflows a double");
  expect_refused("FP64", "[1.8e308]", "overflows a double");
}

TEST(TensorJsonTest, NonFiniteStringsAreNotNumbers) {
  for (const char* s : {"\"NaN\"", "\"Infinity\"", "\"-Infinity\""}) {
    expect_refused("FP32", std::string("[") + s + "]", "(non-finite values are not accepted)");
    expect_refused("FP64", std::string("[") + s + "]", "data[0]: expected a number for FP64");
  }
  expect_refused("FP32", "[\"1.5\"]", "data[0]: expected a number for FP32, got \"1.5\"");
}

TEST(TensorJsonTest, NonFiniteOutputIsProto3JsonStrings) {
  const float fs[] = {std::numeric_limits<float>::quiet_NaN(),
                      std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity(), 1.5f};
  Tensor t{"y", "FP32", {4}, Buffer::copy(std::string_view(reinterpret_cast<const char*>(fs), sizeof(fs)))};
  EXPECT_EQ(output_data(t), R"(["NaN","Infinity","-Infinity",1.5E0])");
  const double ds[] = {-std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()};
  t = {"y", "FP64", {3}, Buffer::copy(std::string_view(reinterpret_cast<const char*>(ds), sizeof(ds)))};
  const std::string text = json::serialize(tensor_to_json(t));
  EXPECT_TRUE(contains(text, R"("data":["NaN","Infinity","-Infinity"])")) << text;
  boost::system::error_code ec;
  parse_json(text, ec);  // valid JSON
  EXPECT_FALSE(ec) << text;
}

TEST(TensorJsonTest, FloatsRoundTripAndPrintShort) {
  EXPECT_EQ(round_trip("FP32", "[0.1]"), "[1E-1]");  // not 1.0000000149011612E-1
  EXPECT_EQ(round_trip("FP32", "[3.4028235e38]"), "[3.4028235E38]");
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const std::uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, 4);
    if (!std::isfinite(f)) continue;
    const Tensor t{"y", "FP32", {1}, Buffer::copy(std::string_view(reinterpret_cast<const char*>(&f), 4))};
    const std::string text = output_data(t);
    // Read as a client reads it: a double, rounded to float.
    const auto back = static_cast<float>(parse(text).as_array()[0].to_number<double>());
    ASSERT_EQ(std::memcmp(&back, &f, 4), 0) << text;
    // And as this server reads it back.
    Result<Tensor> again = input("FP32", text);
    ASSERT_TRUE(again.ok()) << text << ": " << again.status().message();
    ASSERT_EQ(again->data, t.data) << text;
  }
  std::mt19937_64 rng64(7);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t bits = rng64();
    double d;
    std::memcpy(&d, &bits, 8);
    if (!std::isfinite(d)) continue;
    const Tensor t{"y", "FP64", {1}, Buffer::copy(std::string_view(reinterpret_cast<const char*>(&d), 8))};
    const std::string text = output_data(t);
    Result<Tensor> again = input("FP64", text);
    ASSERT_TRUE(again.ok()) << text << ": " << again.status().message();
    ASSERT_EQ(again->data, t.data) << text;  // exact: json_parse converts from the text
  }
}

TEST(TensorJsonTest, ShapesAreCheckedWithoutOverflow) {
  auto with_shape = [](std::string_view shape, std::string_view data,
                       std::int64_t max_elements = 1 << 20) {
    const std::string text =
        "{\"name\":\"x\",\"datatype\":\"INT32\",\"shape\":" + std::string(shape) +
        ",\"data\":" + std::string(data) + "}";
    return tensor_from_json(parse(text), 0, max_elements);
  };
  Result<Tensor> t = with_shape("[4294967296,4294967296]", "[1]");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "input 'x': shape [4294967296,4294967296]: the element count overflows 64 bits");
  t = with_shape("[3037000500,3037000500]", "[1]");  // (2^31.5)^2: just past 2^63
  EXPECT_TRUE(contains(t.status().message(), "overflows 64 bits")) << t.status().message();
  t = with_shape("[1048576,1048576]", "[1]", 1000);  // fits in 64 bits, not in the body
  EXPECT_TRUE(contains(t.status().message(),
                       "has 1099511627776 elements, more than the request could hold (1000)"))
      << t.status().message();
  t = with_shape("[2,-1]", "[1]");
  EXPECT_TRUE(contains(t.status().message(), "input 'x': shape[1]: expected an integer >= 0"))
      << t.status().message();
  t = with_shape("[9223372036854775808]", "[1]");
  EXPECT_TRUE(contains(t.status().message(),
                       "shape[0]: expected an integer >= 0 (and < 2^63), got 9223372036854775808"));
  t = with_shape("[1.5]", "[1]");
  EXPECT_TRUE(contains(t.status().message(), "shape[0]")) << t.status().message();
  t = with_shape("[\"2\"]", "[1,2]");
  EXPECT_TRUE(contains(t.status().message(), "shape[0]")) << t.status().message();
  t = with_shape("[2,3]", "[1,2,3,4,5]");
  EXPECT_TRUE(contains(t.status().message(), "data has 5 elements, shape needs 6"))
      << t.status().message();
  // Exact integers count; nested data is row-major.
  t = with_shape("[2.0,2]", "[[1,2],[3,4]]");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(output_data(*t), "[1,2,3,4]");
  // A zero dimension: no elements, whatever the others are (their product still has to fit).
  t = with_shape("[0,9223372036854775807]", "[]");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_TRUE(t->data.empty());
  t = with_shape("[0,4294967296,4294967296]", "[]");
  EXPECT_TRUE(contains(t.status().message(), "overflows 64 bits")) << t.status().message();
  t = with_shape("[]", "[5]");  // a scalar
  ASSERT_TRUE(t.ok()) << t.status().message();
}

TEST(TensorJsonTest, Bytes) {
  Result<Tensor> t = input("BYTES", R"(["hi", "", "\u00e9\u0000x"])");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->data, encode_bytes_element("hi") + encode_bytes_element("") +
                         encode_bytes_element(std::string("\xc3\xa9\0x", 4)));
  EXPECT_EQ(output_data(*t), R"(["hi","","é\u0000x"])");
  expect_refused("BYTES", "[\"a\",1]", "data[1]: expected a string for BYTES, got 1");
}

TEST(TensorJsonTest, InputStructureErrors) {
  EXPECT_TRUE(contains(tensor_from_json(parse("[1]"), 2, 100).status().message(),
                       "inputs[2]: expected an object"));
  EXPECT_TRUE(contains(
      tensor_from_json(parse(R"({"name":"x","datatype":"FP16","shape":[1],"data":[1]})"), 0, 100)
          .status()
          .message(),
      "input 'x': datatype 'FP16' is not supported in JSON"));
  EXPECT_TRUE(
      contains(tensor_from_json(parse(R"({"name":"x","datatype":"FP32","shape":[1]})"), 0, 100)
                   .status()
                   .message(),
               "input 'x': data: required"));
}

TEST(ParametersFromJsonTest, KeepTheirJsonTypes) {
  auto p = parameters_from_json(
      parse(R"({"b":true,"i":-3,"u":18446744073709551615,"d":1e3,"f":0.5,"s":"50 tokens"})"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(*p->find("b"), Parameters::Value(true));
  EXPECT_EQ(*p->find("i"), Parameters::Value(std::int64_t{-3}));
  EXPECT_EQ(*p->find("u"), Parameters::Value(std::uint64_t{18446744073709551615u}));
  EXPECT_EQ(*p->find("d"), Parameters::Value(1000.0));
  EXPECT_EQ(*p->find("f"), Parameters::Value(0.5));
  EXPECT_EQ(*p->find("s"), Parameters::Value(std::string("50 tokens")));
  std::int64_t n = 0;
  ASSERT_TRUE(p->read_int("d", &n, 1, 1 << 20).ok());
  EXPECT_EQ(n, 1000);
  EXPECT_FALSE(p->read_int("s", &n, 1, 1 << 20).ok());
}

TEST(ParametersFromJsonTest, RefusesWhatIsNotAScalarByName) {
  for (const char* text : {R"({"x":null})", R"({"x":[1]})", R"({"x":{"a":1}})", R"({"x":1e400})"}) {
    auto p = parameters_from_json(parse(text));
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(p.status().message(), "parameters.x: ")) << p.status().message();
  }
  EXPECT_FALSE(parameters_from_json(parse("[1]")).ok());
}

TEST(JsonParseTest, NumbersConvertExactlyFromTheirText) {
  // Boost 1.81's own conversion gives 1.3927926388013965e-143 for this one.
  const json::value v = parse("[1.3927926388013963e-143, 5.409760742964738e124, -0.0, 1e-400]");
  EXPECT_EQ(v.as_array()[0].as_double(), 1.3927926388013963e-143);
  EXPECT_EQ(v.as_array()[1].as_double(), 5.409760742964738e124);
  EXPECT_TRUE(std::signbit(v.as_array()[2].as_double()));
  EXPECT_EQ(v.as_array()[3].as_double(), 0.0);
  boost::system::error_code ec;
  parse_json("[1,", ec);
  EXPECT_TRUE(ec);
  parse_json("{} x", ec);
  EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace modelpool::server
