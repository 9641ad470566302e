// multipart/form-data (RFC 7578 over RFC 2046's multipart syntax): the parts
// of a request body, each a view of the body's bytes, never a copy.
//
//   Result<std::string> boundary = form_data_boundary(content_type_header);
//   Result<std::vector<FormPart>> parts = parse_form_data(ex.body(), *boundary);
//
// The body, as clients write it (curl -F, browsers, the OpenAI SDKs):
//
//   [preamble CRLF] --B [LWSP] CRLF
//   headers CRLF CRLF data            (data ends at the next CRLF --B)
//   CRLF --B [LWSP] CRLF ... part ...
//   CRLF --B-- [epilogue]
//
// Rules this parser keeps:
//   - A delimiter is "--B" at the start of the body or after a CRLF, followed
//     by "--" (the last) or by optional spaces and tabs and a CRLF. "--B"
//     anywhere else (not at a line start, or followed by other bytes, as in
//     "--Bx") is data. The CRLF before a delimiter belongs to the delimiter,
//     not to the data before it.
//   - Lines end with CRLF; a part's headers end with an empty line.
//   - Every part has "Content-Disposition: form-data" with a name; the
//     filename and a Content-Type are optional. Header names are
//     case-insensitive; parameter values are tokens or quoted strings (a
//     backslash escapes the next character). Other headers are ignored, but
//     a Content-Transfer-Encoding other than 7bit, 8bit or binary is refused
//     (RFC 7578 deprecates it; the data would need decoding).
//   - Parts are returned in body order; names may repeat (form arrays such as
//     "timestamp_granularities[]"): whether a repeat is allowed is the
//     caller's to say. A part may be empty.
//   - The preamble and the epilogue are ignored; a body that ends before
//     its last delimiter "--B--" is refused.
// Every refusal is kInvalidArgument naming the problem and, for a part, its
// position ("multipart part 2: ...").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modelpool/buffer.h"
#include "modelpool/status.h"

namespace modelpool::server {

struct FormPart {
  std::string name;           // Content-Disposition's name
  std::string filename;       // its filename; empty when it has none
  bool has_filename = false;  // a file upload (filename present, maybe "")
  std::string content_type;   // the part's Content-Type; empty when absent
  Buffer data;                // a slice of the body
};

// Whether `content_type` (a Content-Type header's value) is
// multipart/form-data, whatever its parameters (case-insensitive).
bool is_form_data(std::string_view content_type);

// The boundary of a multipart/form-data Content-Type, quoted or not
// ("multipart/form-data; boundary=XyZ", "...; boundary=\"a b\""). kInvalidArgument
// when the type is not multipart/form-data, or the boundary is missing,
// empty, longer than 70 characters (RFC 2046), or holds a byte no boundary
// line can (a control character, a space at its end).
Result<std::string> form_data_boundary(std::string_view content_type);

// The parts of `body`, delimited by `boundary`; each part's data is a slice
// of `body`. REQUIRES: boundary is not empty.
Result<std::vector<FormPart>> parse_form_data(const Buffer& body, std::string_view boundary);

}  // namespace modelpool::server
