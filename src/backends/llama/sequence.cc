#include "backends/llama/sequence.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "backends/llama/chat_prompt.h"

namespace modelpool::llama {
namespace {

// Bytes at the end of `s` that begin a UTF-8 character not yet complete.
std::size_t incomplete_utf8_tail(const std::string& s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= std::min<std::size_t>(n, 4); ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking
    std::size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

// Length of the longest suffix of `text` that is a proper prefix of a stop
// string: that text might become part of a stop string, so it is held back.
std::size_t stop_prefix_tail(const std::string& text, const std::vector<std::string>& stops) {
  std::size_t best = 0;
  for (const std::string& stop : stops) {
    for (std::size_t len = std::min(stop.size() - 1, text.size()); len > best; --len) {
      if (text.compare(text.size() - len, len, stop, 0, len) == 0) {
        best = len;
        break;
      }
    }
  }
  return best;
}

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

Result<PreparedPrompt> prepare(const LlamaWeights& weights, const GenerationRequest& request,
                               std::size_t sequence_tokens) {
  if (request.max_tokens < 1) return invalid_argument_error("max_tokens must be >= 1");
  if (request.temperature < 0) return invalid_argument_error("temperature must be >= 0");
  if (request.top_p <= 0 || request.top_p > 1) return invalid_argument_error("top_p must be in (0, 1]");
  for (const std::string& s : request.stop) {
    if (s.empty()) return invalid_argument_error("stop: empty stop string");
  }
  if (!(std::abs(request.presence_penalty) <= 2)) {
    return invalid_argument_error("presence_penalty must be in [-2, 2]");
  }
  if (!(std::abs(request.frequency_penalty) <= 2)) {
    return invalid_argument_error("frequency_penalty must be in [-2, 2]");
  }
  if (request.top_logprobs < 0 || request.top_logprobs > 20) {
    return invalid_argument_error("top_logprobs must be in [0, 20]");
  }
  const int32_t n_vocab = llama_vocab_n_tokens(weights.vocab());
  for (const auto& [token, bias] : request.logit_bias) {
    if (token < 0 || token >= n_vocab) {
      return invalid_argument_error("logit_bias: token " + std::to_string(token) +
                                    " is not in the vocabulary (ids 0.." +
                                    std::to_string(n_vocab - 1) + ")");
    }
    if (!(std::abs(bias) <= 100)) {
      return invalid_argument_error("logit_bias: the bias of token " + std::to_string(token) +
                                    " must be in [-100, 100]");
    }
  }
  PreparedPrompt p;
  if (!request.messages.empty()) {
    auto tokens = tokenize_chat(weights, request.messages);
    if (!tokens.ok()) return tokens.status();
    p.tokens = std::move(*tokens);
  } else {
    if (request.prompt.empty()) {
      return invalid_argument_error("prompt: empty (give a prompt or messages)");
    }
    p.tokens = weights.tokenize(request.prompt, /*add_special=*/true);
  }
  if (p.tokens.empty()) return invalid_argument_error("prompt: tokenizes to nothing");
  // The prompt and at least one generated token must fit the sequence.
  if (p.tokens.size() + 1 > sequence_tokens) {
    return invalid_argument_error("prompt: " + std::to_string(p.tokens.size()) +
                                  " tokens do not fit the context of " +
                                  std::to_string(sequence_tokens) + " tokens per sequence");
  }
  auto grammar = grammar_sampler_for(request.response_format, weights.vocab());
  if (!grammar.ok()) return grammar.status();
  p.grammar = std::move(*grammar);
  return p;
}

Sequence::Sequence(const LlamaWeights& weights, const GenerationRequest& request,
                   PreparedPrompt prompt, std::size_t sequence_tokens, Clock::time_point t0)
    : weights_(weights),
      request_(request),
      prompt_(std::move(prompt.tokens)),
      sequence_tokens_(sequence_tokens),
      t0_(t0) {
  result_.prompt_tokens = static_cast<int>(prompt_.size());
  // Generation ends at the sequence's end whatever max_tokens asks for.
  const std::size_t room = sequence_tokens > prompt_.size() ? sequence_tokens - prompt_.size() : 0;
  const std::size_t most = std::min(static_cast<std::size_t>(std::max(request.max_tokens, 0)), room);
  result_.tokens.reserve(most);
  result_.token_times_s.reserve(most);
  for (const std::string& s : request.stop) longest_stop_ = std::max(longest_stop_, s.size());

  n_vocab_ = llama_vocab_n_tokens(weights.vocab());
  // The order vLLM applies them in: bias, penalties, then what is allowed
  // (the grammar), then the sampling proper.
  sampler_ = llama_sampler_chain_init(llama_sampler_chain_default_params());
  const bool biased = !request.logit_bias.empty();
  const bool penalized = request.presence_penalty != 0 || request.frequency_penalty != 0;
  if (biased) {
    std::vector<llama_logit_bias> bias;
    for (const auto& [token, b] : request.logit_bias) bias.push_back({token, b});
    llama_sampler_chain_add(
        sampler_,
        llama_sampler_init_logit_bias(n_vocab_, static_cast<int32_t>(bias.size()), bias.data()));
  }
  if (penalized) {
    // The sampler counts what it accepts: only generated tokens, never the
    // prompt (as vLLM), and all of them (the window is the whole room).
    const auto window = static_cast<int32_t>(std::max<std::size_t>(most, 1));
    llama_sampler_chain_add(
        sampler_, llama_sampler_init_penalties(n_vocab_, window, 1.0f, request.frequency_penalty,
                                               request.presence_penalty));
  }
  const bool constrained = prompt.grammar != nullptr;
  if (constrained) llama_sampler_chain_add(sampler_, prompt.grammar.release());
  if (request.temperature <= 0) {
    llama_sampler_chain_add(sampler_, llama_sampler_init_greedy());
    plain_greedy_ = !biased && !penalized && !constrained;  // on_logits takes a shortcut
  } else {
    const std::uint32_t seed = request.seed ? *request.seed : std::random_device{}();
    if (request.top_k > 0) llama_sampler_chain_add(sampler_, llama_sampler_init_top_k(request.top_k));
    if (request.top_p < 1) llama_sampler_chain_add(sampler_, llama_sampler_init_top_p(request.top_p, 1));
    llama_sampler_chain_add(sampler_, llama_sampler_init_temp(request.temperature));
    llama_sampler_chain_add(sampler_, llama_sampler_init_dist(seed));
  }
  if (request.logprobs) result_.logprobs.reserve(most);
}

Sequence::~Sequence() { llama_sampler_free(sampler_); }

void Sequence::mark_started() {
  if (!started_) {
    started_ = true;
    result_.queue_s = since(t0_);
  }
}

void Sequence::on_logits(llama_context* ctx, int32_t index) {
  if (finished_) return;
  const float* logits = llama_get_logits_ith(ctx, index);
  llama_token token = 0;
  if (plain_greedy_) {
    // An argmax over the logits, without building the sampler's candidate
    // array (measured: ~20% of a 32-sequence decoding step).
    token = static_cast<llama_token>(std::max_element(logits, logits + n_vocab_) - logits);
  } else {
    token = llama_sampler_sample(sampler_, ctx, index);  // also advances grammar and penalties
  }
  if (!request_.ignore_eos && weights_.is_end_of_generation(token)) {
    finish(FinishReason::kStop);
    return;
  }
  result_.token_times_s.push_back(since(t0_));
  if (result_.tokens.empty()) result_.ttft_s = result_.token_times_s.back();
  result_.tokens.push_back(token);
  ++result_.completion_tokens;
  if (request_.logprobs) result_.logprobs.push_back(logprob_of(logits, token));

  const std::size_t before = result_.text.size();
  result_.text += weights_.piece(token);
  if (!request_.stop.empty()) {
    // A stop string may straddle tokens: look from where it could start.
    const std::size_t from = before >= longest_stop_ ? before - longest_stop_ + 1 : 0;
    std::size_t cut = std::string::npos;
    for (const std::string& s : request_.stop) cut = std::min(cut, result_.text.find(s, from));
    if (cut != std::string::npos) {
      result_.text.resize(cut);
      finish(FinishReason::kStop);
      return;
    }
  }
  if (result_.completion_tokens >= request_.max_tokens || next_pos() + 1 >= static_cast<llama_pos>(sequence_tokens_)) {
    finish(FinishReason::kLength);
    return;
  }
  emit_final_text(false);
}

void Sequence::emit_final_text(bool flush) {
  if (!request_.on_text || finished_streaming_) return;
  std::size_t end = result_.text.size();
  if (!flush) end -= std::max(stop_prefix_tail(result_.text, request_.stop), incomplete_utf8_tail(result_.text));
  if (end <= emitted_) return;
  const std::string_view piece(result_.text.data() + emitted_, end - emitted_);
  emitted_ = end;
  hand_over_logprobs();  // those of the tokens this piece completes
  if (!request_.on_text(piece)) {
    finished_streaming_ = true;
    if (!finished_) {
      finished_ = true;
      result_.finish_reason = FinishReason::kCancelled;
    }
  }
}

void Sequence::hand_over_logprobs() {
  if (!request_.on_logprobs || logprobs_handed_ == result_.logprobs.size()) return;
  request_.on_logprobs(std::span<const TokenLogprob>(result_.logprobs).subspan(logprobs_handed_));
  logprobs_handed_ = result_.logprobs.size();
}

TokenLogprob Sequence::logprob_of(const float* logits, llama_token chosen) const {
  // log-softmax: logit - log(sum(exp(logits))), computed around the maximum.
  const float max = *std::max_element(logits, logits + n_vocab_);
  double sum = 0;
  for (int32_t i = 0; i < n_vocab_; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const double log_sum = static_cast<double>(max) + std::log(sum);
  // JSON has no -inf (a masked logit): report vLLM's floor instead.
  auto prob = [&](llama_token t) {
    const auto lp = static_cast<float>(static_cast<double>(logits[t]) - log_sum);
    return TokenProb{t, weights_.piece(t), std::max(lp, -9999.0f)};
  };
  TokenLogprob out;
  static_cast<TokenProb&>(out) = prob(chosen);
  const auto k = static_cast<std::size_t>(request_.top_logprobs);
  if (k == 0) return out;
  // The k largest logits in one pass over the vocabulary: a heap of k
  // whose front is the weakest kept.
  auto ranks_above = [&](llama_token a, llama_token b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::vector<llama_token> best;
  best.reserve(k + 1);
  for (llama_token t = 0; t < n_vocab_; ++t) {
    if (best.size() == k && !ranks_above(t, best.front())) continue;
    best.push_back(t);
    std::push_heap(best.begin(), best.end(), ranks_above);
    if (best.size() > k) {
      std::pop_heap(best.begin(), best.end(), ranks_above);
      best.pop_back();
    }
  }
  std::sort(best.begin(), best.end(), ranks_above);
  out.top.reserve(best.size());
  for (llama_token t : best) out.top.push_back(prob(t));
  return out;
}

void Sequence::finish(FinishReason reason) {
  if (finished_) return;
  emit_final_text(true);
  if (finished_) return;  // the consumer went away while flushing
  // Tokens whose text never streamed (cut by a stop string) still had logprobs.
  if (!finished_streaming_) hand_over_logprobs();
  finished_ = true;
  result_.finish_reason = reason;
}

std::vector<llama_token> Sequence::tokens_with_kv() const {
  std::vector<llama_token> out(prompt_.begin(), prompt_.begin() + static_cast<std::ptrdiff_t>(prefilled_));
  if (prefill_done()) {
    out.insert(out.end(), result_.tokens.begin(),
               result_.tokens.begin() + static_cast<std::ptrdiff_t>(fed_generated_));
  }
  return out;
}

GenerationResult Sequence::take_result() {
  result_.total_s = since(t0_);
  if (!started_) result_.queue_s = result_.total_s;  // ended before the model started on it
  return std::move(result_);
}

}  // namespace modelpool::llama
