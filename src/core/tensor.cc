#include <cstdint>
#include <cstring>

#include "modelpool/backend.h"

namespace modelpool {

std::string encode_bytes_element(std::string_view bytes) {
  std::string out(4, '\0');
  const auto len = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(out.data(), &len, 4);
  out.append(bytes);
  return out;
}

Result<std::string> first_bytes_element(const Tensor& t) {
  if (t.datatype != "BYTES") {
    return invalid_argument_error("input '" + t.name + "': datatype " + t.datatype + ", expected BYTES");
  }
  if (t.data.size() < 4) return invalid_argument_error("input '" + t.name + "': no element");
  std::uint32_t len = 0;
  std::memcpy(&len, t.data.data(), 4);
  if (t.data.size() - 4 < len) return invalid_argument_error("input '" + t.name + "': truncated element");
  return std::string(t.data.view().substr(4, len));
}

}  // namespace modelpool
