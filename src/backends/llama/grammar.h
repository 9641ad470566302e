// Grammars for constrained decoding: what a ResponseFormat asks of the
// output, as a llama.cpp grammar sampler.
#pragma once

#include <llama.h>

#include <memory>
#include <string>

#include "backends/llama/llm_service.h"

namespace modelpool::llama {

struct SamplerDeleter {
  void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

// The GBNF grammar for `format`: empty for kText; llama.cpp's
// grammars/json.gbnf (any JSON object) for kJsonObject; for kJsonSchema the
// grammar llama.cpp's own converter (common/json-schema-to-grammar) makes of
// the schema. kInvalidArgument naming "response_format" when the schema is
// not JSON or the converter cannot handle it (its message included).
Result<std::string> grammar_for(const ResponseFormat& format);

// A grammar sampler for `format` over `vocab` (null for kText).
// kInvalidArgument as grammar_for, or when llama.cpp cannot parse the grammar.
Result<SamplerPtr> grammar_sampler_for(const ResponseFormat& format, const llama_vocab* vocab);

}  // namespace modelpool::llama
