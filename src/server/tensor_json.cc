#include "server/tensor_json.h"

#include <cmath>
#include <cstring>

namespace modelpool::server {

namespace json = boost::json;

namespace {

struct TypeInfo {
  std::string_view name;
  std::size_t size;  // 0: BYTES
  enum Kind { kBool, kSigned, kUnsigned, kFloat, kBytes } kind;
};

constexpr TypeInfo kTypes[] = {
    {"BOOL", 1, TypeInfo::kBool},      {"INT8", 1, TypeInfo::kSigned},   {"INT16", 2, TypeInfo::kSigned},
    {"INT32", 4, TypeInfo::kSigned},   {"INT64", 8, TypeInfo::kSigned},  {"UINT8", 1, TypeInfo::kUnsigned},
    {"UINT16", 2, TypeInfo::kUnsigned}, {"UINT32", 4, TypeInfo::kUnsigned}, {"UINT64", 8, TypeInfo::kUnsigned},
    {"FP32", 4, TypeInfo::kFloat},     {"FP64", 8, TypeInfo::kFloat},    {"BYTES", 0, TypeInfo::kBytes},
};

const TypeInfo* find_type(std::string_view name) {
  for (const TypeInfo& t : kTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
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

}  // namespace

Result<Tensor> tensor_from_json(const json::value& input, std::size_t index) {
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
  if (!datatype || !datatype->is_string()) return invalid_argument_error(at + ": datatype: required string");
  t.datatype = datatype->as_string();
  const TypeInfo* type = find_type(t.datatype);
  if (type == nullptr) return invalid_argument_error(at + ": datatype '" + t.datatype + "' is not supported in JSON");
  if (!shape || !shape->is_array()) return invalid_argument_error(at + ": shape: required array of integers");
  std::int64_t count = 1;
  for (const json::value& d : shape->as_array()) {
    if (!d.is_int64() || d.as_int64() < 0) return invalid_argument_error(at + ": shape: dimensions must be integers >= 0");
    t.shape.push_back(d.as_int64());
    count *= d.as_int64();
  }
  if (!data) return invalid_argument_error(at + ": data: required");
  std::vector<const json::value*> elements;
  flatten(*data, &elements);
  if (static_cast<std::int64_t>(elements.size()) != count) {
    return invalid_argument_error(at + ": data has " + std::to_string(elements.size()) + " elements, shape needs " + std::to_string(count));
  }
  for (const json::value* e : elements) {
    bool ok = true;
    switch (type->kind) {
      case TypeInfo::kBool:
        ok = e->is_bool();
        if (ok) append<std::uint8_t>(&t.data, e->as_bool() ? 1 : 0);
        break;
      case TypeInfo::kSigned:
      case TypeInfo::kUnsigned: {
        ok = e->is_int64() || e->is_uint64();
        if (!ok) break;
        const std::int64_t x = e->is_int64() ? e->as_int64() : static_cast<std::int64_t>(e->as_uint64());
        switch (type->size) {
          case 1: append<std::int8_t>(&t.data, static_cast<std::int8_t>(x)); break;
          case 2: append<std::int16_t>(&t.data, static_cast<std::int16_t>(x)); break;
          case 4: append<std::int32_t>(&t.data, static_cast<std::int32_t>(x)); break;
          default: append<std::int64_t>(&t.data, x); break;
        }
        break;
      }
      case TypeInfo::kFloat:
        ok = e->is_number();
        if (!ok) break;
        if (type->size == 4) append<float>(&t.data, e->to_number<float>());
        else append<double>(&t.data, e->to_number<double>());
        break;
      case TypeInfo::kBytes:
        ok = e->is_string();
        if (ok) t.data += encode_bytes_element(e->as_string());
        break;
    }
    if (!ok) return invalid_argument_error(at + ": data: element of the wrong type for " + t.datatype);
  }
  return t;
}

json::object tensor_to_json(const Tensor& t) {
  json::array shape;
  for (std::int64_t d : t.shape) shape.push_back(d);
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
    for (; end - p >= static_cast<std::ptrdiff_t>(type->size); p += type->size) {
      switch (type->kind) {
        case TypeInfo::kBool: data.push_back(read<std::uint8_t>(p) != 0); break;
        case TypeInfo::kFloat:
          data.push_back(type->size == 4 ? static_cast<double>(read<float>(p)) : read<double>(p));
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
  return {{"name", t.name}, {"datatype", t.datatype}, {"shape", std::move(shape)}, {"data", std::move(data)}};
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
        return invalid_argument_error("parameters." + key + ": expected a boolean, a number or a string");
    }
  }
  return out;
}

}  // namespace modelpool::server
