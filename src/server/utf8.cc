#include "server/utf8.h"

#include <cstddef>

namespace modelpool::server {
namespace {

// The length of the well-formed sequence at text[i], or 0 when the bytes
// there start none; `*maximal` is then the length of the maximal ill-formed
// subpart to replace (at least 1).
std::size_t sequence_at(std::string_view text, std::size_t i, std::size_t* maximal) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  *maximal = 1;
  if (b < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range (RFC 3629's table)
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // no overlong form
    if (b == 0xED) hi = 0x9F;  // no surrogate
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // no overlong form
    if (b == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    if (i + k >= text.size()) return 0;
    const unsigned char c = byte(i + k);
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return 0;
    *maximal = k + 1;
  }
  return n;
}

}  // namespace

bool is_utf8(std::string_view text) {
  std::size_t maximal = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = sequence_at(text, i, &maximal);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string valid_utf8(std::string_view text) {
  if (is_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t maximal = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = sequence_at(text, i, &maximal);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += maximal;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace modelpool::server
