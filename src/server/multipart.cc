#include "server/multipart.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

namespace modelpool::server {
namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

// A header value with parameters: `type; key=value; key="quoted"`. Keys
// lower-cased; values unquoted (a backslash escapes the next character).
struct HeaderValue {
  std::string type;
  std::map<std::string, std::string> params;
};

// `what` names the header in errors ("Content-Type").
Result<HeaderValue> parse_header_value(std::string_view text, std::string_view what) {
  HeaderValue out;
  const std::size_t semi = text.find(';');
  out.type = lower(trim(text.substr(0, semi)));
  std::size_t i = semi == std::string_view::npos ? text.size() : semi + 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == ';')) ++i;
    if (i >= text.size()) break;
    const std::size_t eq = text.find('=', i);
    const std::size_t next_semi = text.find(';', i);
    if (eq == std::string_view::npos || (next_semi != std::string_view::npos && next_semi < eq)) {
      return invalid_argument_error(std::string(what) + ": parameter '" +
                                    std::string(trim(text.substr(i, next_semi - i))) +
                                    "' has no value");
    }
    const std::string key = lower(trim(text.substr(i, eq - i)));
    i = eq + 1;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) {
          value += text[i++];
        } else {
          value += c;
        }
      }
      if (!closed) {
        return invalid_argument_error(std::string(what) + ": parameter '" + key +
                                      "' has an unterminated quoted value");
      }
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      if (i < text.size() && text[i] != ';') {
        return invalid_argument_error(std::string(what) +
                                      ": unexpected text after the quoted value of '" + key + "'");
      }
    } else {
      const std::size_t end = text.find(';', i);
      value = std::string(trim(text.substr(i, end - i)));
      i = end == std::string_view::npos ? text.size() : end;
    }
    if (key.empty()) return invalid_argument_error(std::string(what) + ": a parameter has no name");
    if (!out.params.emplace(key, std::move(value)).second) {
      return invalid_argument_error(std::string(what) + ": parameter '" + key + "' is given twice");
    }
  }
  return out;
}

// A delimiter line found in the body.
struct Delimiter {
  std::size_t start = std::string_view::npos;  // its CRLF (or "--B" at the body's start)
  std::size_t end = 0;                         // after its line (or after "--B--")
  bool last = false;                           // "--B--"
  bool found() const { return start != std::string_view::npos; }
};

// The first delimiter "--B" at or after `from` that starts a line: at the
// body's start (only when `from` is 0) or after a CRLF at or after `from`,
// followed by "--" or by [ \t]* CRLF. Anything else is data.
Delimiter next_delimiter(std::string_view body, std::string_view dash_boundary, std::size_t from) {
  for (std::size_t i = body.find(dash_boundary, from); i != std::string_view::npos;
       i = body.find(dash_boundary, i + 1)) {
    std::size_t start = i;
    if (i != 0 || from != 0) {
      if (i < from + kCrlf.size() || body.substr(i - kCrlf.size(), kCrlf.size()) != kCrlf) continue;
      start = i - kCrlf.size();
    }
    std::size_t after = i + dash_boundary.size();
    if (body.substr(after, 2) == "--") return {start, after + 2, true};
    while (after < body.size() && (body[after] == ' ' || body[after] == '\t')) ++after;
    if (body.substr(after, kCrlf.size()) == kCrlf) return {start, after + kCrlf.size(), false};
  }
  return {};
}

// One part's headers (`headers` holds their lines, each ended by CRLF).
Status read_part_headers(std::string_view headers, const std::string& where, FormPart* part) {
  bool disposition = false;
  while (!headers.empty()) {
    const std::size_t eol = headers.find(kCrlf);  // every line ends with one
    const std::string_view line = headers.substr(0, eol);
    headers.remove_prefix(eol + kCrlf.size());
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' ||
        line.front() == '\t') {
      return invalid_argument_error(where + ": malformed header line '" + std::string(line) + "'");
    }
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Disposition")) {
      if (disposition)
        return invalid_argument_error(where + ": Content-Disposition is given twice");
      disposition = true;
      Result<HeaderValue> v = parse_header_value(value, where + ": Content-Disposition");
      if (!v.ok()) return v.status();
      if (v->type != "form-data") {
        return invalid_argument_error(where + ": Content-Disposition is '" + v->type +
                                      "', expected form-data");
      }
      auto n = v->params.find("name");
      if (n == v->params.end()) {
        return invalid_argument_error(
            where + ": Content-Disposition has no name (form-data; name=\"...\")");
      }
      part->name = n->second;
      if (auto f = v->params.find("filename"); f != v->params.end()) {
        part->filename = f->second;
        part->has_filename = true;
      }
    } else if (iequals(name, "Content-Type")) {
      part->content_type = std::string(value);
    } else if (iequals(name, "Content-Transfer-Encoding")) {
      const std::string encoding = lower(value);
      if (encoding != "binary" && encoding != "8bit" && encoding != "7bit") {
        return invalid_argument_error(where + ": Content-Transfer-Encoding '" + std::string(value) +
                                      "' is not supported (send the bytes as they are: binary)");
      }
    }
  }
  if (!disposition) {
    return invalid_argument_error(where +
                                  " has no Content-Disposition header (form-data; name=\"...\")");
  }
  return {};
}

}  // namespace

bool is_form_data(std::string_view content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';')))) == "multipart/form-data";
}

Result<std::string> form_data_boundary(std::string_view content_type) {
  if (!is_form_data(content_type)) {
    return invalid_argument_error("Content-Type '" + std::string(content_type) +
                                  "' is not multipart/form-data");
  }
  Result<HeaderValue> v = parse_header_value(content_type, "Content-Type");
  if (!v.ok()) return v.status();
  auto b = v->params.find("boundary");
  if (b == v->params.end() || b->second.empty()) {
    return invalid_argument_error("Content-Type multipart/form-data has no boundary parameter");
  }
  const std::string& boundary = b->second;
  if (boundary.size() > 70) {
    return invalid_argument_error("multipart boundary is " + std::to_string(boundary.size()) +
                                  " characters long; at most 70 are allowed");
  }
  const bool printable = std::all_of(boundary.begin(), boundary.end(),
                                     [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
  if (!printable || boundary.back() == ' ') {
    return invalid_argument_error(
        "multipart boundary holds a character a boundary cannot (a control "
        "character, a space at its end)");
  }
  return boundary;
}

Result<std::vector<FormPart>> parse_form_data(const Buffer& body, std::string_view boundary) {
  const std::string_view text = body.view();
  const std::string dash_boundary = "--" + std::string(boundary);
  Delimiter d = next_delimiter(text, dash_boundary, 0);
  if (!d.found()) {
    return invalid_argument_error("multipart body has no boundary line '" + dash_boundary +
                                  "' (the boundary of its Content-Type)");
  }
  std::vector<FormPart> parts;
  while (!d.last) {
    const std::string where = "multipart part " + std::to_string(parts.size() + 1);
    const std::size_t begin = d.end;
    // The part ends at the next delimiter's CRLF, which cannot be the one
    // that ended this part's own delimiter line.
    d = next_delimiter(text, dash_boundary, begin);
    if (!d.found()) {
      return invalid_argument_error(where +
                                    " is unterminated: the body ends before a boundary line '" +
                                    dash_boundary + "' (the last one '" + dash_boundary + "--')");
    }
    const std::string_view content = text.substr(begin, d.start - begin);
    // Headers, each line ended by CRLF, then an empty line.
    std::size_t headers_size = 0;
    if (content.substr(0, kCrlf.size()) != kCrlf) {
      const std::size_t blank = content.find("\r\n\r\n");
      if (blank == std::string_view::npos) {
        return invalid_argument_error(where + ": its headers do not end with an empty line");
      }
      headers_size = blank + kCrlf.size();
    }
    FormPart part;
    if (Status s = read_part_headers(content.substr(0, headers_size), where, &part); !s.ok())
      return s;
    const std::size_t data_offset = begin + headers_size + kCrlf.size();
    part.data = body.slice(data_offset, d.start - data_offset);
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace modelpool::server
