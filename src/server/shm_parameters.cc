#include "server/shm_parameters.h"

#include <tuple>

#include "modelpool/backend.h"

namespace modelpool::server {

namespace json = boost::json;

namespace {

const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

// An integer >= 0 (and < 2^63), or nullopt.
std::optional<std::int64_t> non_negative(const json::value& v) {
  std::optional<std::int64_t> n;
  if (v.is_int64()) n = v.get_int64();
  if (v.is_double()) n = exact_integer(v.get_double());
  if (n && *n < 0) n.reset();
  return n;
}

}  // namespace

Result<std::optional<ShmParameters>> shm_parameters_from_json(const json::object& params,
                                                              const std::string& at) {
  const json::value* region = present(params, kShmRegion);
  const json::value* offset = present(params, kShmOffset);
  const json::value* size = present(params, kShmByteSize);
  if (region == nullptr && offset == nullptr && size == nullptr)
    return std::optional<ShmParameters>();
  const std::string p = at + ": parameters.";
  ShmParameters out;
  for (const auto& [key, value, field] : {std::tuple{kShmOffset, offset, &out.offset},
                                          std::tuple{kShmByteSize, size, &out.byte_size}}) {
    if (value == nullptr) continue;
    const std::optional<std::int64_t> n = non_negative(*value);
    if (!n) {
      return invalid_argument_error(p + key + ": expected an integer >= 0, got " +
                                    json::serialize(*value).substr(0, 40));
    }
    *field = static_cast<std::uint64_t>(*n);
  }
  if (region == nullptr) {
    return invalid_argument_error(p + (offset != nullptr ? kShmOffset : kShmByteSize) +
                                  " without " + kShmRegion + ": name the region");
  }
  if (!region->is_string() || region->get_string().empty()) {
    return invalid_argument_error(p + kShmRegion +
                                  ": expected the name of a registered region, got " +
                                  json::serialize(*region).substr(0, 40));
  }
  out.region = region->get_string();
  if (size == nullptr)
    return invalid_argument_error(p + kShmByteSize + ": required with " + kShmRegion);
  return std::optional<ShmParameters>(std::move(out));
}

Result<ShmSlice> resolve_shm(const ShmRegistry* regions, const ShmParameters& p,
                             const std::string& at) {
  if (regions == nullptr) return invalid_argument_error(at + ": " + kShmDisabled);
  Result<ShmSlice> slice = regions->slice(p.region, p.offset, p.byte_size);
  if (!slice.ok()) return Status(slice.status().code(), at + ": " + slice.status().message());
  return slice;
}

}  // namespace modelpool::server
