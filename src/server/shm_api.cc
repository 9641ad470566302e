// Triton's system shared memory endpoints (api.h has the routes and their
// answers; shm_regions.h the regions).
#include <boost/json.hpp>

#include "server/api.h"
#include "server/request_fields.h"
#include "server/shm_parameters.h"
#include "server/utf8.h"

namespace modelpool::server {
namespace {

namespace json = boost::json;

constexpr std::string_view kPrefix = "/v2/systemsharedmemory";

json::object status_json(const ShmRegionStatus& s) {
  // A region's name comes from the request target: any bytes.
  return {{"name", valid_utf8(s.name)}, {"key", s.key}, {"offset", s.offset}, {"byte_size", s.byte_size}};
}

// A required integer >= min, or the error naming the field.
void required_size(Fields& fields, std::string_view key, std::int64_t* out, std::int64_t min) {
  if (fields.get(key) == nullptr || fields.get(key)->is_null()) return fields.fail(key, "required");
  fields.optional_int(key, out, min, INT64_MAX);
}

struct RegisterBody {
  std::string key;
  std::int64_t offset = 0;
  std::int64_t byte_size = 0;
};

Result<RegisterBody> register_body(const Buffer& body) {
  auto doc = parse_object(body.view());
  if (!doc.ok()) return doc.status();
  Fields fields(*doc);
  fields.only({"key", "offset", "byte_size"});
  RegisterBody r;
  fields.required_string("key", &r.key);
  fields.optional_int("offset", &r.offset, 0, INT64_MAX);
  required_size(fields, "byte_size", &r.byte_size, 1);
  if (!fields.status().ok()) return fields.status();
  return r;
}

}  // namespace

void Api::system_shared_memory(std::shared_ptr<Exchange> ex, const std::string& path) {
  const http::verb method = routed_method(ex->request());
  // "/status", "/unregister" or "/region/{name}/{action}".
  const std::string rest = path.substr(kPrefix.size());
  std::string name, action;
  if (rest == "/status" || rest == "/unregister") {
    action = rest.substr(1);
  } else if (rest.rfind("/region/", 0) == 0) {
    const std::string tail = rest.substr(std::string_view("/region/").size());
    const auto slash = tail.find('/');
    if (slash != std::string::npos && slash > 0) {
      name = tail.substr(0, slash);
      action = tail.substr(slash + 1);
    }
  }
  if (action != "status" && action != "unregister" && !(action == "register" && !name.empty())) {
    return respond_error(*ex, not_found_error("no route " + path));
  }

  if (action == "status") {
    if (method != http::verb::get) return respond_method_not_allowed(*ex, path, "GET, HEAD");
    json::array regions;
    if (name.empty()) {
      for (const ShmRegionStatus& s : shm_regions_.status()) regions.push_back(status_json(s));
    } else {
      Result<ShmRegionStatus> s = shm_regions_.status(name);
      if (!s.ok()) return respond_error(*ex, s.status());
      regions.push_back(status_json(*s));
    }
    return ex->respond(http::status::ok, json::serialize(regions));
  }

  if (method != http::verb::post) return respond_method_not_allowed(*ex, path, "POST");
  if (!options_.allow_client_shm) {
    return ex->respond(http::status::not_implemented, error_body(ErrorFormat::kKServe, kShmDisabled,
                                                                 "not_implemented_error", 501));
  }
  // shm_open, mmap and munmap are system calls on a file system: off the
  // I/O thread.
  offload([this, ex, name, action] {
    if (action == "register") {
      Result<RegisterBody> body = register_body(ex->body());
      if (!body.ok()) {
        return respond_error(*ex, invalid_argument_error("shared memory region '" + name +
                                                         "': " + body.status().message()));
      }
      const Status s =
          shm_regions_.register_region(name, body->key, static_cast<std::uint64_t>(body->offset),
                                       static_cast<std::uint64_t>(body->byte_size));
      if (!s.ok()) return respond_error(*ex, s);
    } else {
      // Triton's unregister has an empty body; {} is taken as empty too.
      if (!ex->body().empty()) {
        auto doc = parse_object(ex->body().view());
        if (!doc.ok()) return respond_error(*ex, doc.status());
        Fields fields(*doc);
        fields.only({}, "unregister: ");
        if (!fields.status().ok()) return respond_error(*ex, fields.status());
      }
      if (name.empty()) {
        shm_regions_.unregister_all();
      } else {
        shm_regions_.unregister(name);
      }
    }
    ex->respond(http::status::ok, "");
  });
}

}  // namespace modelpool::server
