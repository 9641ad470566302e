#include "backends/llama/chat_prompt.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

namespace modelpool::llama {
namespace {

// Around each sentinel: whitespace no template writes itself, so a template
// that trims its contents (llama.cpp's trim() uses isspace) is told apart
// from one that keeps them.
constexpr std::string_view kPad = "\v\f";

// Different in every process and never shown to a caller, so no content can
// contain a sentinel.
const std::string& sentinel_prefix() {
  static const std::string prefix = [] {
    std::random_device rd;
    char buf[64];
    std::snprintf(buf, sizeof buf, "<<modelpool-content-%08x%08x-", rd(), rd());
    return std::string(buf);
  }();
  return prefix;
}

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Renders `chat` with `tmpl`; < 0 when llama.cpp cannot apply it.
int32_t apply_template(const char* tmpl, const std::vector<llama_chat_message>& chat,
                       std::string* out) {
  out->assign(4096, '\0');
  int32_t n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), true, out->data(),
                                        static_cast<int32_t>(out->size()));
  if (n > static_cast<int32_t>(out->size())) {
    out->resize(static_cast<std::size_t>(n));
    n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), true, out->data(),
                                  static_cast<int32_t>(out->size()));
  }
  out->resize(static_cast<std::size_t>(std::max(n, 0)));
  return n;
}

// A piece of the rendered conversation: template text (where special tokens
// may be) or a message's content (text only).
struct Segment {
  std::string_view text;
  bool from_template;
};

// Splits `rendered` at the sentinels back into template text and contents.
Result<std::vector<Segment>> split_at_sentinels(std::string_view rendered,
                                                const std::vector<ChatMessage>& messages) {
  const std::string& prefix = sentinel_prefix();
  auto altered = [] {
    return invalid_argument_error(
        "messages: the model's chat template alters message contents, so they cannot be kept "
        "apart from its special tokens");
  };
  std::vector<Segment> out;
  std::size_t pos = 0;
  for (std::size_t at; (at = rendered.find(prefix, pos)) != std::string_view::npos;) {
    // "<prefix><index>>>"
    std::size_t end = at + prefix.size();
    std::size_t index = 0;
    const std::size_t digits = end;
    while (end < rendered.size() && std::isdigit(static_cast<unsigned char>(rendered[end]))) {
      index = index * 10 + static_cast<std::size_t>(rendered[end++] - '0');
    }
    if (end == digits || rendered.substr(end, 2) != ">>" || index >= messages.size()) {
      return altered();
    }
    end += 2;
    const bool pad_before =
        at >= pos + kPad.size() && rendered.substr(at - kPad.size(), kPad.size()) == kPad;
    const bool pad_after = rendered.substr(end, kPad.size()) == kPad;
    std::string_view content = messages[index].content;
    if (pad_before && pad_after) {
      at -= kPad.size();
      end += kPad.size();
    } else if (!pad_before && !pad_after) {
      content = trim(content);  // the template trims its contents
    } else {
      return altered();
    }
    out.push_back({rendered.substr(pos, at - pos), true});
    out.push_back({content, false});
    pos = end;
  }
  out.push_back({rendered.substr(pos), true});
  // No pad or piece of a sentinel may be left in the template's own text.
  for (const Segment& s : out) {
    if (s.from_template && (s.text.find(kPad) != std::string_view::npos ||
                            s.text.find("<<modelpool-content-") != std::string_view::npos)) {
      return altered();
    }
  }
  return out;
}

// Builds the token sequence: text accumulates until a special token, then
// is tokenized as plain text in one piece, as llama.cpp tokenizes the
// fragments between special tokens.
class TokenBuilder {
 public:
  explicit TokenBuilder(const LlamaWeights& weights) : weights_(weights) {}

  void add_text(std::string_view text) {
    if (strip_next_) {
      while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
      if (text.empty()) return;
      strip_next_ = false;
    }
    pending_ += text;
  }

  // Template text: special tokens are looked for, longest first, as
  // llama_tokenize does with parse_special (tokenizer_st_partition).
  void add_template(std::string_view text) {
    struct Fragment {
      std::string_view text;
      llama_token token;  // LLAMA_TOKEN_NULL for text
    };
    std::vector<Fragment> fragments{{text, LLAMA_TOKEN_NULL}};
    const llama_vocab* vocab = weights_.vocab();
    for (llama_token special : weights_.special_tokens()) {
      const std::string_view needle = llama_vocab_get_text(vocab, special);
      const auto attr = llama_vocab_get_attr(vocab, special);
      const bool found = std::any_of(fragments.begin(), fragments.end(), [&](const Fragment& f) {
        return f.token == LLAMA_TOKEN_NULL && f.text.find(needle) != std::string_view::npos;
      });
      if (!found) continue;
      std::vector<Fragment> next;
      for (const Fragment& f : fragments) {
        if (f.token != LLAMA_TOKEN_NULL || f.text.find(needle) == std::string_view::npos) {
          next.push_back(f);
          continue;
        }
        std::string_view rest = f.text;
        for (std::size_t at; (at = rest.find(needle)) != std::string_view::npos;) {
          std::string_view left = rest.substr(0, at);
          if (attr & LLAMA_TOKEN_ATTR_LSTRIP) {
            while (!left.empty() && is_space(left.back())) left.remove_suffix(1);
          }
          if (!left.empty()) next.push_back({left, LLAMA_TOKEN_NULL});
          next.push_back({{}, special});
          rest.remove_prefix(at + needle.size());
          if (attr & LLAMA_TOKEN_ATTR_RSTRIP) {
            while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
          }
        }
        if (!rest.empty()) next.push_back({rest, LLAMA_TOKEN_NULL});
      }
      fragments = std::move(next);
    }
    for (const Fragment& f : fragments) {
      if (f.token == LLAMA_TOKEN_NULL) {
        add_text(f.text);
      } else {
        add_special(f.token, llama_vocab_get_attr(vocab, f.token));
      }
    }
  }

  std::vector<llama_token> finish() {
    flush();
    return std::move(tokens_);
  }

  void add_token(llama_token t) {
    flush();
    tokens_.push_back(t);
  }

 private:
  void add_special(llama_token t, llama_token_attr attr) {
    // A special token's strip flags reach into the text beside it, contents
    // included, as in one llama_tokenize call over the rendered text.
    if (attr & LLAMA_TOKEN_ATTR_LSTRIP) {
      while (!pending_.empty() && is_space(pending_.back())) pending_.pop_back();
    }
    add_token(t);
    strip_next_ = (attr & LLAMA_TOKEN_ATTR_RSTRIP) != 0;
  }

  void flush() {
    if (pending_.empty()) return;
    std::vector<llama_token> t =
        weights_.tokenize(pending_, /*add_special=*/false, /*parse_special=*/false);
    tokens_.insert(tokens_.end(), t.begin(), t.end());
    pending_.clear();
  }

  const LlamaWeights& weights_;
  std::vector<llama_token> tokens_;
  std::string pending_;
  bool strip_next_ = false;
};

}  // namespace

Result<std::vector<llama_token>> tokenize_chat(const LlamaWeights& weights,
                                               const std::vector<ChatMessage>& messages,
                                               const char* tmpl) {
  // Empty contents need no sentinel (and a template may treat them apart).
  std::vector<std::string> stand_ins(messages.size());
  std::vector<llama_chat_message> chat;
  chat.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].content.empty()) {
      stand_ins[i] =
          std::string(kPad) + sentinel_prefix() + std::to_string(i) + ">>" + std::string(kPad);
    }
    chat.push_back({messages[i].role.c_str(), stand_ins[i].c_str()});
  }
  std::string rendered;
  const char* own = tmpl != nullptr ? tmpl : weights.chat_template();
  int32_t n = apply_template(own != nullptr ? own : "chatml", chat, &rendered);
  // The model's own template is one llama.cpp does not know: fall back.
  if (n < 0 && own != nullptr) n = apply_template("chatml", chat, &rendered);
  if (n < 0) return invalid_argument_error("messages: the chat template could not be applied");

  auto segments = split_at_sentinels(rendered, messages);
  if (!segments.ok()) return segments.status();
  const llama_vocab* vocab = weights.vocab();
  TokenBuilder builder(weights);
  if (llama_vocab_get_add_bos(vocab)) builder.add_token(llama_vocab_bos(vocab));
  for (const Segment& s : *segments) {
    if (s.from_template) {
      builder.add_template(s.text);
    } else {
      builder.add_text(s.text);
    }
  }
  std::vector<llama_token> tokens = builder.finish();
  if (llama_vocab_get_add_eos(vocab)) tokens.push_back(llama_vocab_eos(vocab));
  return tokens;
}

}  // namespace modelpool::llama
