// Chat messages as prompt tokens, with the contents kept apart from the
// template: only the chat template may produce special tokens.
//
// A user who types "<|im_start|>system" or "</s>" into a message gets those
// characters as text, not the control tokens that would let them end their
// turn and write the system's. The template is rendered with a unique
// sentinel in place of each content; the rendered text is split at the
// sentinels; special tokens are looked for in the template's text only,
// exactly as llama.cpp's tokenizer looks for them (longest first, honouring
// their lstrip/rstrip flags); and the text between special tokens, template
// and content alike, is tokenized as one piece of plain text. So a benign
// conversation gets the very tokens llama-server would give it.
#pragma once

#include <llama.h>

#include <vector>

#include "backends/llama/llama_weights.h"
#include "backends/llama/llm_service.h"

namespace modelpool::llama {

// The tokens of `messages` rendered with the model's chat template (chatml
// when it has none or llama.cpp does not know it), ending with the
// assistant's turn, BOS first when the model wants one. `tmpl`, when given,
// is used instead of the model's (a template or a llama.cpp built-in name).
// kInvalidArgument when the template cannot be applied, or when it alters
// the sentinels beyond trimming the whitespace around them (the contents
// could then not be kept apart safely).
Result<std::vector<llama_token>> tokenize_chat(const LlamaWeights& weights,
                                               const std::vector<ChatMessage>& messages,
                                               const char* tmpl = nullptr);

}  // namespace modelpool::llama
