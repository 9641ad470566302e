// UTF-8 text for JSON answers. A JSON text is UTF-8 (RFC 8259), and
// Boost.JSON writes a string's bytes as they are: a message that quotes
// what a client sent (a request target, a header, a form field) or a BYTES
// element must be made or checked UTF-8 before it is written, or the answer
// is not JSON and a client's parser refuses it.
#pragma once

#include <string>
#include <string_view>

namespace modelpool::server {

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or
// code points past U+10FFFF; RFC 3629).
bool is_utf8(std::string_view text);

// `text` with each ill-formed sequence replaced by U+FFFD (one per maximal
// ill-formed subpart, as the Unicode standard recommends); `text` itself
// when it is well-formed.
std::string valid_utf8(std::string_view text);

}  // namespace modelpool::server
