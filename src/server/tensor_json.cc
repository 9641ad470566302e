#include "server/tensor_json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "server/request_fields.h"
#include "server/shm_parameters.h"
#include "server/utf8.h"

namespace modelpool::server {

namespace json = boost::json;

namespace {

struct TypeInfo {
  std::string_view name;
  std::size_t size;  // 0: BYTES
  enum Kind { kBool, kSigned, kUnsigned, kFloat, kBytes } kind;
};

constexpr TypeInfo kTypes[] = {
    {"BOOL", 1, TypeInfo::kBool},       {"INT8", 1, TypeInfo::kSigned},
    {"INT16", 2, TypeInfo::kSigned},    {"INT32", 4, TypeInfo::kSigned},
    {"INT64", 8, TypeInfo::kSigned},    {"UINT8", 1, TypeInfo::kUnsigned},
    {"UINT16", 2, TypeInfo::kUnsigned}, {"UINT32", 4, TypeInfo::kUnsigned},
    {"UINT64", 8, TypeInfo::kUnsigned}, {"FP32", 4, TypeInfo::kFloat},
    {"FP64", 8, TypeInfo::kFloat},      {"BYTES", 0, TypeInfo::kBytes},
};

const TypeInfo* find_type(std::string_view name) {
  for (const TypeInfo& t : kTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The smallest magnitude that rounds to a float infinity: FLT_MAX plus half
// its ulp, 2^128 - 2^103 (a tie rounds to the even neighbour, 2^128).
constexpr double kFloatOverflow = 0x1.ffffffp127;

// An integer type's range; min <= 0 <= max.
struct IntRange {
  std::int64_t min;
  std::uint64_t max;
};

IntRange range_of(const TypeInfo& t) {
  const std::size_t bits = 8 * t.size;
  if (t.kind == TypeInfo::kSigned) {
    if (bits == 64)
      return {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
    return {-(std::int64_t{1} << (bits - 1)), (std::uint64_t{1} << (bits - 1)) - 1};
  }
  if (bits == 64) return {0, std::numeric_limits<std::uint64_t>::max()};
  return {0, (std::uint64_t{1} << bits) - 1};
}

template <typename Float>
std::string shortest(Float x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), x);
  return std::string(buf, r.ptr);
}

// A JSON value as it reads in an error message, cut short.
std::string describe(const json::value& v) {
  std::string s = v.is_double() ? shortest(v.get_double()) : json::serialize(v);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

// The integer `e` stands for, as its 64-bit two's complement pattern, when it
// is one within `r`; otherwise why not.
struct IntOrWhy {
  std::uint64_t bits = 0;
  std::string why;  // empty: ok
};

IntOrWhy integer_in(const json::value& e, const TypeInfo& type) {
  const IntRange r = range_of(type);
  const auto out_of_range = [&] {
    const std::string min = std::to_string(r.min), max = std::to_string(r.max);
    return IntOrWhy{0, describe(e) + " is out of range for " + std::string(type.name) + " [" + min +
                           ", " + max + "]"};
  };
  if (e.is_uint64()) {
    if (e.get_uint64() > r.max) return out_of_range();
    return {e.get_uint64(), {}};
  }
  std::int64_t x = 0;
  if (e.is_int64()) {
    x = e.get_int64();
  } else if (e.is_double()) {
    const double d = e.get_double();
    if (!std::isfinite(d)) return {0, "the number overflows a double"};
    std::optional<std::int64_t> exact = exact_integer(d);
    if (!exact && std::trunc(d) != d)
      return {0, describe(e) + " is not an integer (" + std::string(type.name) + ")"};
    // Integral, but from 2^53 on it may not be the number that was written.
    if (!exact) {
      // r.max + 1 is 2^63 or 2^64 here (smaller types never get this far), exact as a double.
      if (d < static_cast<double>(r.min) || d >= static_cast<double>(r.max) + 1.0)
        return out_of_range();
      return {0, describe(e) +
                     " is not exact as a number with a fraction or exponent (|x| >= 2^53): "
                     "write the integer's digits"};
    }
    x = *exact;
  } else {
    return {0, "expected an integer for " + std::string(type.name) + ", got " + describe(e)};
  }
  if (x < r.min || (x > 0 && static_cast<std::uint64_t>(x) > r.max)) return out_of_range();
  return {static_cast<std::uint64_t>(x), {}};
}

void flatten(const json::value& v, std::vector<const json::value*>* out) {
  if (v.is_array()) {
    for (const json::value& e : v.as_array()) flatten(e, out);
  } else {
    out->push_back(&v);
  }
}

template <typename T>
void append(std::string* data, T x) {
  char buf[sizeof(T)];
  std::memcpy(buf, &x, sizeof(T));
  data->append(buf, sizeof(T));
}

template <typename T>
T read(const char* p) {
  T x;
  std::memcpy(&x, p, sizeof(T));
  return x;
}

// Appends element `e` of a tensor of `type`, or says why it cannot be one.
std::string append_element(const json::value& e, const TypeInfo& type, std::string* data) {
  switch (type.kind) {
    case TypeInfo::kBool:
      if (!e.is_bool()) return "expected true or false for BOOL, got " + describe(e);
      append<std::uint8_t>(data, e.get_bool() ? 1 : 0);
      return {};
    case TypeInfo::kSigned:
    case TypeInfo::kUnsigned: {
      IntOrWhy x = integer_in(e, type);
      if (!x.why.empty()) return x.why;
      // In range, so the low bytes of the pattern are the value.
      switch (type.size) {
        case 1: append<std::uint8_t>(data, static_cast<std::uint8_t>(x.bits)); break;
        case 2: append<std::uint16_t>(data, static_cast<std::uint16_t>(x.bits)); break;
        case 4: append<std::uint32_t>(data, static_cast<std::uint32_t>(x.bits)); break;
        default: append<std::uint64_t>(data, x.bits); break;
      }
      return {};
    }
    case TypeInfo::kFloat: {
      if (!e.is_number()) {
        const bool named =
            e.is_string() && (e.get_string() == "NaN" || e.get_string() == "Infinity" ||
                              e.get_string() == "-Infinity");
        return "expected a number for " + std::string(type.name) + ", got " + describe(e) +
               (named ? " (non-finite values are not accepted)" : "");
      }
      const double d =
          e.to_number<double>();  // int64 and uint64 convert (rounding), a double is itself
      if (!std::isfinite(d)) return "the number overflows a double";
      if (type.size == 8) {
        append<double>(data, d);
      } else if (std::fabs(d) >= kFloatOverflow) {
        return describe(e) +
               " is out of range for FP32 (|x| <= " + shortest(std::numeric_limits<float>::max()) +
               ")";
      } else {
        append<float>(data, static_cast<float>(d));
      }
      return {};
    }
    case TypeInfo::kBytes:
      if (!e.is_string()) return "expected a string for BYTES, got " + describe(e);
      *data += encode_bytes_element(e.get_string());
      return {};
  }
  return "unknown datatype";
}

// A float as the shortest decimal that rounds back to it; JSON numbers are
// read as doubles, and the double nearest that decimal rounds to `f` again.
// Checked: should rounding twice ever land elsewhere, `f` widened exactly.
json::value float_value(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), f);
  double d = 0;
  std::from_chars(buf, r.ptr, d);
  if (static_cast<float>(d) != f) d = static_cast<double>(f);
  return d;
}

// proto3's JSON mapping for the values JSON numbers cannot hold.
json::value non_finite_value(double d) {
  if (std::isnan(d)) return "NaN";
  return d > 0 ? "Infinity" : "-Infinity";
}

}  // namespace

namespace {

// Where an input's bytes come from, by its "parameters": binary data,
// shared memory, or neither (JSON "data").
struct InputSource {
  std::optional<std::int64_t> binary_size;
  std::optional<ShmParameters> shm;
};

// Reads an input's "parameters"; refuses every other parameter by name, and
// both sources at once.
Result<InputSource> input_source(const json::object& input, const std::string& at) {
  const json::value* params = input.if_contains("parameters");
  if (params == nullptr || params->is_null()) return InputSource{};
  if (!params->is_object()) return invalid_argument_error(at + ": parameters: expected an object");
  Fields fields(params->as_object());
  fields.only({"binary_data_size", kShmRegion, kShmOffset, kShmByteSize}, at + ": parameters.");
  if (!fields.status().ok()) return fields.status();
  InputSource source;
  auto shm = shm_parameters_from_json(params->as_object(), at);
  if (!shm.ok()) return shm.status();
  source.shm = std::move(*shm);
  const json::value* size = params->as_object().if_contains("binary_data_size");
  if (size == nullptr || size->is_null()) return source;
  std::optional<std::int64_t> k;
  if (size->is_int64()) k = size->get_int64();
  if (size->is_double()) k = exact_integer(size->get_double());
  if (!k || *k < 0) {
    return invalid_argument_error(
        at + ": parameters.binary_data_size: expected an integer >= 0, got " + describe(*size));
  }
  if (source.shm) {
    return invalid_argument_error(at + ": both binary_data_size and " + kShmRegion + ": give one");
  }
  source.binary_size = k;
  return source;
}

// Why `bytes` cannot be the data of `count` BYTES elements (each a 4-byte
// length, then the bytes), or empty when they can.
std::string bytes_mismatch(std::string_view bytes, std::int64_t count) {
  std::size_t at = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    if (bytes.size() - at < 4) return "element " + std::to_string(i) + " has no 4-byte length";
    const auto len = read<std::uint32_t>(bytes.data() + at);
    at += 4;
    if (bytes.size() - at < len) {
      return "element " + std::to_string(i) + " (" + std::to_string(len) +
             " bytes) runs past the end";
    }
    at += len;
  }
  if (at != bytes.size()) {
    return std::to_string(bytes.size() - at) + " bytes are left after its " +
           std::to_string(count) + " elements";
  }
  return {};
}

// Completes `t` (name, datatype and shape read; `count` elements) with the
// shared-memory range `p` names: a view of the mapping, not a copy.
Result<Tensor> tensor_from_shm(Tensor t, const TypeInfo& type, std::int64_t count, const json::value& shape,
                               const ShmParameters& p, const json::value* data, const ShmRegistry* shm,
                               const std::string& at) {
  if (data != nullptr && !data->is_null())
    return invalid_argument_error(at + ": both data and " + kShmRegion + ": give one");
  const std::string size_is = at + ": " + kShmByteSize + " " + std::to_string(p.byte_size);
  // Every element takes a byte at least (BYTES: 4), so a count above the
  // size is a mismatch, and below it count * type.size cannot overflow.
  const auto n = static_cast<std::uint64_t>(count);
  if (type.kind != TypeInfo::kBytes && (n > p.byte_size || n * type.size != p.byte_size)) {
    return invalid_argument_error(size_is + " does not match shape " + json::serialize(shape) + " of " +
                                  t.datatype + ", which takes " +
                                  (n > p.byte_size ? "more" : std::to_string(n * type.size)) + " bytes (" +
                                  std::to_string(count) + " x " + std::to_string(type.size) + ")");
  }
  Result<ShmSlice> slice = resolve_shm(shm, p, at);
  if (!slice.ok()) return slice.status();
  t.data = slice->buffer();
  if (type.kind == TypeInfo::kBytes) {
    const std::string why = n > p.byte_size / 4 ? "it cannot hold " + std::to_string(count) + " 4-byte lengths"
                                                : bytes_mismatch(t.data.view(), count);
    if (!why.empty()) {
      return invalid_argument_error(size_is + " does not hold shape " + json::serialize(shape) + " of BYTES: " +
                                    why);
    }
  }
  return t;
}

}  // namespace

Result<Tensor> tensor_from_json(const json::value& input, std::size_t index,
                                std::int64_t max_elements, Buffer* binary, const ShmRegistry* shm) {
  const std::string where = "inputs[" + std::to_string(index) + "]";
  const json::object* o = input.if_object();
  if (o == nullptr) return invalid_argument_error(where + ": expected an object");
  Tensor t;
  const json::value* name = o->if_contains("name");
  const json::value* datatype = o->if_contains("datatype");
  const json::value* shape = o->if_contains("shape");
  const json::value* data = o->if_contains("data");
  if (!name || !name->is_string()) return invalid_argument_error(where + ".name: required string");
  t.name = name->as_string();
  const std::string at = "input '" + t.name + "'";
  Result<InputSource> source = input_source(*o, at);
  if (!source.ok()) return source.status();
  const std::optional<std::int64_t>& binary_size = source->binary_size;
  const std::optional<ShmParameters>& shm_params = source->shm;
  const bool not_json = binary_size.has_value() || shm_params.has_value();
  if (!datatype || !datatype->is_string())
    return invalid_argument_error(at + ": datatype: required string");
  t.datatype = datatype->as_string();
  const TypeInfo* type = find_type(t.datatype);
  if (type == nullptr) {
    return invalid_argument_error(at + ": datatype '" + t.datatype + "' is not supported" +
                                  (not_json ? "" : " in JSON"));
  }
  if (!shape || !shape->is_array())
    return invalid_argument_error(at + ": shape: required array of integers");

  // The element count: 0 with a zero dimension, else the product, which must
  // fit (then so does every partial product a backend may compute).
  std::int64_t product = 1;
  bool empty = false;
  for (std::size_t i = 0; i < shape->as_array().size(); ++i) {
    const json::value& d = shape->as_array()[i];
    std::optional<std::int64_t> dim;
    if (d.is_int64()) dim = d.get_int64();
    if (d.is_double()) dim = exact_integer(d.get_double());
    if (!dim || *dim < 0) {
      return invalid_argument_error(at + ": shape[" + std::to_string(i) +
                                    "]: expected an integer >= 0 (and < 2^63), got " + describe(d));
    }
    t.shape.push_back(*dim);
    if (*dim == 0) {
      empty = true;
    } else if (__builtin_mul_overflow(product, *dim, &product)) {
      return invalid_argument_error(at + ": shape " + json::serialize(*shape) +
                                    ": the element count overflows 64 bits");
    }
  }
  const std::int64_t count = empty ? 0 : product;
  if (shm_params) return tensor_from_shm(std::move(t), *type, count, *shape, *shm_params, data, shm, at);
  if (count > max_elements) {
    return invalid_argument_error(
        at + ": shape " + json::serialize(*shape) + " has " + std::to_string(count) +
        " elements, more than the request could hold (" + std::to_string(max_elements) + ")");
  }

  if (binary_size.has_value()) {
    // The data is the next K bytes of the binary part: a slice, not a copy.
    const auto k = static_cast<std::uint64_t>(*binary_size);
    const std::string size_is = at + ": binary_data_size " + std::to_string(k);
    if (data != nullptr && !data->is_null())
      return invalid_argument_error(at + ": both data and binary_data_size: give one");
    if (binary == nullptr) {
      return invalid_argument_error(size_is +
                                    ", but the request has no binary data (no "
                                    "Inference-Header-Content-Length header)");
    }
    // count <= the body's size, so no overflow.
    const std::uint64_t fixed = static_cast<std::uint64_t>(count) * type->size;
    if (type->kind != TypeInfo::kBytes && k != fixed) {
      return invalid_argument_error(size_is + " does not match shape " + json::serialize(*shape) +
                                    " of " + t.datatype + ", which takes " + std::to_string(fixed) +
                                    " bytes (" + std::to_string(count) + " x " +
                                    std::to_string(type->size) + ")");
    }
    if (k > binary->size()) {
      return invalid_argument_error(size_is + " runs past the end of the binary data (" +
                                    std::to_string(binary->size()) +
                                    " bytes left after the inputs before it)");
    }
    t.data = binary->slice(0, k);
    *binary = binary->slice(k, binary->size() - k);
    if (type->kind == TypeInfo::kBytes) {
      if (const std::string why = bytes_mismatch(t.data.view(), count); !why.empty()) {
        return invalid_argument_error(size_is + " does not hold shape " + json::serialize(*shape) +
                                      " of BYTES: " + why);
      }
    }
    return t;
  }

  if (!data) return invalid_argument_error(at + ": data: required");
  std::vector<const json::value*> elements;
  flatten(*data, &elements);
  if (static_cast<std::int64_t>(elements.size()) != count) {
    return invalid_argument_error(at + ": data has " + std::to_string(elements.size()) +
                                  " elements, shape needs " + std::to_string(count));
  }
  // Built once, then owned by the tensor's buffer.
  std::string bytes;
  if (type->size > 0) bytes.reserve(elements.size() * type->size);
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const std::string why = append_element(*elements[i], *type, &bytes);
    if (!why.empty())
      return invalid_argument_error(at + ": data[" + std::to_string(i) + "]: " + why);
  }
  t.data = Buffer::adopt(std::move(bytes));
  return t;
}

Status check_json_data(const Tensor& t) {
  const TypeInfo* type = find_type(t.datatype);
  if (type == nullptr || type->kind != TypeInfo::kBytes) return {};
  const char* p = t.data.data();
  const char* end = p + t.data.size();
  for (std::size_t i = 0; end - p >= 4; ++i) {
    const auto len = read<std::uint32_t>(p);
    p += 4;
    if (static_cast<std::size_t>(end - p) < len) break;
    if (!is_utf8(std::string_view(p, len))) {
      return invalid_argument_error("output '" + valid_utf8(t.name) + "': BYTES element " + std::to_string(i) +
                                    " is not UTF-8 text, which JSON cannot hold: ask for it as binary data "
                                    "(\"parameters\": {\"binary_data\": true})");
    }
    p += len;
  }
  return {};
}

json::object tensor_to_json(const Tensor& t, bool binary) {
  json::array shape;
  for (std::int64_t d : t.shape) shape.push_back(d);
  if (binary) {
    return {{"name", t.name},
            {"datatype", t.datatype},
            {"shape", std::move(shape)},
            {"parameters", json::object{{"binary_data_size", t.data.size()}}}};
  }
  json::array data;
  const TypeInfo* type = find_type(t.datatype);
  const char* p = t.data.data();
  const char* end = p + t.data.size();
  if (type != nullptr && type->kind == TypeInfo::kBytes) {
    while (end - p >= 4) {
      const auto len = read<std::uint32_t>(p);
      p += 4;
      if (static_cast<std::size_t>(end - p) < len) break;
      data.push_back(json::string(std::string_view(p, len)));
      p += len;
    }
  } else if (type != nullptr) {
    data.reserve(t.data.size() / type->size);
    for (; end - p >= static_cast<std::ptrdiff_t>(type->size); p += type->size) {
      switch (type->kind) {
        case TypeInfo::kBool: data.push_back(read<std::uint8_t>(p) != 0); break;
        case TypeInfo::kFloat:
          if (type->size == 4) {
            const float f = read<float>(p);
            data.push_back(std::isfinite(f) ? float_value(f) : non_finite_value(f));
          } else {
            const double d = read<double>(p);
            data.push_back(std::isfinite(d) ? json::value(d) : non_finite_value(d));
          }
          break;
        case TypeInfo::kSigned:
          switch (type->size) {
            case 1: data.push_back(read<std::int8_t>(p)); break;
            case 2: data.push_back(read<std::int16_t>(p)); break;
            case 4: data.push_back(read<std::int32_t>(p)); break;
            default: data.push_back(read<std::int64_t>(p)); break;
          }
          break;
        default:
          switch (type->size) {
            case 1: data.push_back(read<std::uint8_t>(p)); break;
            case 2: data.push_back(read<std::uint16_t>(p)); break;
            case 4: data.push_back(read<std::uint32_t>(p)); break;
            default: data.push_back(read<std::uint64_t>(p)); break;
          }
          break;
      }
    }
  }
  return {{"name", t.name},
          {"datatype", t.datatype},
          {"shape", std::move(shape)},
          {"data", std::move(data)}};
}

Result<Parameters> parameters_from_json(const json::value& parameters) {
  const json::object* o = parameters.if_object();
  if (o == nullptr) return invalid_argument_error("parameters: expected an object");
  Parameters out;
  for (const auto& [k, v] : *o) {
    const std::string key(k);
    switch (v.kind()) {
      case json::kind::bool_: out.set(key, v.get_bool()); break;
      case json::kind::int64: out.set(key, v.get_int64()); break;
      case json::kind::uint64: out.set(key, v.get_uint64()); break;
      case json::kind::double_:
        if (!std::isfinite(v.get_double())) {
          return invalid_argument_error("parameters." + key + ": the number overflows a double");
        }
        out.set(key, v.get_double());
        break;
      case json::kind::string: out.set(key, std::string(v.get_string())); break;
      default:
        return invalid_argument_error("parameters." + key +
                                      ": expected a boolean, a number or a string");
    }
  }
  return out;
}

}  // namespace modelpool::server
