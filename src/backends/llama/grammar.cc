#include "backends/llama/grammar.h"

#include <json-schema-to-grammar.h>

#include <exception>

namespace modelpool::llama {
namespace {

// llama.cpp's grammars/json.gbnf, verbatim: a JSON object, whitespace bounded.
constexpr const char* kJsonGrammar = R"gbnf(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
)gbnf";

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

Result<std::string> grammar_for(const ResponseFormat& format) {
  switch (format.kind) {
    case ResponseFormat::Kind::kText: return std::string();
    case ResponseFormat::Kind::kJsonObject: return std::string(kJsonGrammar);
    case ResponseFormat::Kind::kJsonSchema: break;
  }
  // The converter reports what it cannot handle by throwing; that stays in here.
  try {
    return json_schema_to_grammar(common_json::parse(format.json_schema), /*force_gbnf=*/true);
  } catch (const std::exception& e) {
    return invalid_argument_error("response_format: " + one_line(e.what()));
  }
}

Result<SamplerPtr> grammar_sampler_for(const ResponseFormat& format, const llama_vocab* vocab) {
  auto grammar = grammar_for(format);
  if (!grammar.ok()) return grammar.status();
  if (grammar->empty()) return SamplerPtr();
  SamplerPtr sampler(llama_sampler_init_grammar(vocab, grammar->c_str(), "root"));
  if (!sampler) {
    // llama.cpp caps a repetition ({m,n}) at 2000 copies.
    return invalid_argument_error(
        "response_format: llama.cpp refused the grammar made of it (a minItems, minLength or "
        "the like over 2000?)");
  }
  return sampler;
}

}  // namespace modelpool::llama
