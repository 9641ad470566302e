#include "process/wire.h"

#include <limits>

namespace modelpool::process {

WireWriter::WireWriter(MessageHeader header) {
  out_.reserve(256);
  u32(header.magic);
  raw(&header.type, 2);
  raw(&header.flags, 2);
  u64(header.call);
}

WireReader::WireReader(std::string_view message) : p_(message.data()), end_(message.data() + message.size()) {
  header_.magic = u32();
  header_.type = static_cast<MessageType>(fixed<std::uint16_t>());
  header_.flags = fixed<std::uint16_t>();
  header_.call = u64();
  if (ok() && header_.magic != kWireMagic) fail("bad magic");
}

void WireReader::fail(std::string what) {
  if (error_.empty()) error_ = std::move(what);
}

std::string WireReader::str() {
  const std::uint64_t n = u64();
  if (n > left()) {
    fail("string length " + std::to_string(n) + " past the end of the message");
    p_ = end_;
    return {};
  }
  std::string s(p_, n);
  p_ += n;
  return s;
}

std::size_t WireReader::count(std::size_t min_item_bytes) {
  const std::uint64_t n = u64();
  if (min_item_bytes > 0 && n > left() / min_item_bytes) {
    fail("count " + std::to_string(n) + " larger than the message can hold");
    p_ = end_;
    return 0;
  }
  return static_cast<std::size_t>(n);
}

Status WireReader::finish() const {
  if (!error_.empty()) return invalid_argument_error("worker protocol: " + error_);
  if (p_ != end_) return invalid_argument_error("worker protocol: " + std::to_string(left()) + " unexpected bytes");
  return {};
}

void put(WireWriter& w, const TensorRef& t) {
  w.str(t.name);
  w.str(t.datatype);
  w.u64(t.shape.size());
  for (std::int64_t d : t.shape) w.i64(d);
  w.u64(t.offset);
  w.u64(t.size);
}

void get(WireReader& r, TensorRef* t) {
  t->name = r.str();
  t->datatype = r.str();
  t->shape.resize(r.count(8));
  for (auto& d : t->shape) d = r.i64();
  t->offset = r.u64();
  t->size = r.u64();
}

void put(WireWriter& w, const std::vector<TensorRef>& ts) {
  w.u64(ts.size());
  for (const TensorRef& t : ts) put(w, t);
}

void get(WireReader& r, std::vector<TensorRef>* ts) {
  ts->resize(r.count(40));
  for (TensorRef& t : *ts) get(r, &t);
}

void put(WireWriter& w, const Parameters& p) {
  w.u64(p.size());
  for (const auto& [key, value] : p.values()) {
    w.str(key);
    w.u8(static_cast<std::uint8_t>(value.index()));
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, bool>) w.boolean(v);
          if constexpr (std::is_same_v<T, std::int64_t>) w.i64(v);
          if constexpr (std::is_same_v<T, std::uint64_t>) w.u64(v);
          if constexpr (std::is_same_v<T, double>) w.f64(v);
          if constexpr (std::is_same_v<T, std::string>) w.str(v);
        },
        value);
  }
}

void get(WireReader& r, Parameters* p) {
  const std::size_t n = r.count(10);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    std::string key = r.str();
    switch (r.u8()) {
      case 0: p->set(std::move(key), r.boolean()); break;
      case 1: p->set(std::move(key), r.i64()); break;
      case 2: p->set(std::move(key), r.u64()); break;
      case 3: p->set(std::move(key), r.f64()); break;
      case 4: p->set(std::move(key), r.str()); break;
      default: r.fail("unknown parameter type");
    }
  }
}

void put(WireWriter& w, const Status& s) {
  w.u32(static_cast<std::uint32_t>(s.code()));
  w.str(s.message());
}

void get(WireReader& r, Status* s) {
  const std::uint32_t code = r.u32();
  std::string message = r.str();
  if (code > static_cast<std::uint32_t>(StatusCode::kInternal)) {
    r.fail("unknown status code " + std::to_string(code));
    return;
  }
  *s = Status(static_cast<StatusCode>(code), std::move(message));
}

void put(WireWriter& w, const ModelSpec& spec) {
  w.str(spec.name);
  w.str(spec.backend);
  w.str(spec.path);
  w.u64(spec.options.size());
  for (const auto& [k, v] : spec.options) {
    w.str(k);
    w.str(v);
  }
}

void get(WireReader& r, ModelSpec* spec) {
  spec->name = r.str();
  spec->backend = r.str();
  spec->path = r.str();
  const std::size_t n = r.count(16);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    std::string k = r.str();
    spec->options[k] = r.str();
  }
}

void put(WireWriter& w, const ServeOptions& s) {
  w.u8(s.mode == ServeOptions::Mode::kBatched ? 1 : 0);
  w.u64(s.min_instances);
  w.u64(s.max_instances);
  w.u64(s.slots);
  w.u64(s.context);
  w.u64(s.threads);
  w.u64(s.max_queue);
  w.boolean(s.warmup);
  w.str(s.isolation);
}

void get(WireReader& r, ServeOptions* s) {
  s->mode = r.u8() == 1 ? ServeOptions::Mode::kBatched : ServeOptions::Mode::kExclusive;
  s->min_instances = r.u64();
  s->max_instances = r.u64();
  s->slots = r.u64();
  s->context = r.u64();
  s->threads = r.u64();
  s->max_queue = r.u64();
  s->warmup = r.boolean();
  s->isolation = r.str();
}

namespace {

void put_prob(WireWriter& w, const TokenProb& p) {
  w.u32(static_cast<std::uint32_t>(p.token));
  w.str(p.text);
  w.f64(p.logprob);
}

void get_prob(WireReader& r, TokenProb* p) {
  p->token = static_cast<std::int32_t>(r.u32());
  p->text = r.str();
  p->logprob = static_cast<float>(r.f64());
}

}  // namespace

void put(WireWriter& w, const std::vector<TokenLogprob>& entries) {
  w.u64(entries.size());
  for (const TokenLogprob& e : entries) {
    put_prob(w, e);
    w.u64(e.top.size());
    for (const TokenProb& t : e.top) put_prob(w, t);
  }
}

void get(WireReader& r, std::vector<TokenLogprob>* entries) {
  entries->resize(r.count(28));
  for (TokenLogprob& e : *entries) {
    get_prob(r, &e);
    e.top.resize(r.count(20));
    for (TokenProb& t : e.top) get_prob(r, &t);
  }
}

void put(WireWriter& w, const GenerationRequest& g) {
  w.str(g.prompt);
  w.u64(g.messages.size());
  for (const ChatMessage& m : g.messages) {
    w.str(m.role);
    w.str(m.content);
  }
  w.i64(g.max_tokens);
  w.f64(g.temperature);
  w.f64(g.top_p);
  w.i64(g.top_k);
  w.boolean(g.seed.has_value());
  w.u32(g.seed.value_or(0));
  w.u64(g.stop.size());
  for (const std::string& s : g.stop) w.str(s);
  w.boolean(g.ignore_eos);
  w.u64(g.logit_bias.size());
  for (const auto& [token, bias] : g.logit_bias) {
    w.i64(token);
    w.f64(bias);
  }
  w.f64(g.presence_penalty);
  w.f64(g.frequency_penalty);
  w.u8(static_cast<std::uint8_t>(g.response_format.kind));
  w.str(g.response_format.json_schema);
  w.boolean(g.logprobs);
  w.i64(g.top_logprobs);
  w.boolean(static_cast<bool>(g.on_text));
  w.boolean(static_cast<bool>(g.on_logprobs));
}

namespace {

int narrow_int(WireReader& r, std::int64_t v) {
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    r.fail("integer out of range");
    return 0;
  }
  return static_cast<int>(v);
}

}  // namespace

void get(WireReader& r, GenerationRequest* g, bool* stream_text, bool* stream_logprobs) {
  g->prompt = r.str();
  g->messages.resize(r.count(16));
  for (ChatMessage& m : g->messages) {
    m.role = r.str();
    m.content = r.str();
  }
  g->max_tokens = narrow_int(r, r.i64());
  g->temperature = static_cast<float>(r.f64());
  g->top_p = static_cast<float>(r.f64());
  g->top_k = narrow_int(r, r.i64());
  const bool has_seed = r.boolean();
  const std::uint32_t seed = r.u32();
  if (has_seed) g->seed = seed;
  g->stop.resize(r.count(8));
  for (std::string& s : g->stop) s = r.str();
  g->ignore_eos = r.boolean();
  g->logit_bias.resize(r.count(16));
  for (auto& [token, bias] : g->logit_bias) {
    token = narrow_int(r, r.i64());
    bias = static_cast<float>(r.f64());
  }
  g->presence_penalty = static_cast<float>(r.f64());
  g->frequency_penalty = static_cast<float>(r.f64());
  const std::uint8_t kind = r.u8();
  if (kind > static_cast<std::uint8_t>(ResponseFormat::Kind::kJsonSchema)) r.fail("unknown response format");
  g->response_format.kind = static_cast<ResponseFormat::Kind>(kind);
  g->response_format.json_schema = r.str();
  g->logprobs = r.boolean();
  g->top_logprobs = narrow_int(r, r.i64());
  *stream_text = r.boolean();
  *stream_logprobs = r.boolean();
}

void put(WireWriter& w, const GenerationResult& g) {
  w.str(g.text);
  w.u64(g.tokens.size());
  for (std::int32_t t : g.tokens) w.u32(static_cast<std::uint32_t>(t));
  w.i64(g.prompt_tokens);
  w.i64(g.completion_tokens);
  w.u8(static_cast<std::uint8_t>(g.finish_reason));
  w.f64(g.queue_s);
  w.f64(g.ttft_s);
  w.f64(g.total_s);
  w.u64(g.token_times_s.size());
  for (double t : g.token_times_s) w.f64(t);
  put(w, g.logprobs);
}

void get(WireReader& r, GenerationResult* g) {
  g->text = r.str();
  g->tokens.resize(r.count(4));
  for (std::int32_t& t : g->tokens) t = static_cast<std::int32_t>(r.u32());
  g->prompt_tokens = narrow_int(r, r.i64());
  g->completion_tokens = narrow_int(r, r.i64());
  const std::uint8_t reason = r.u8();
  if (reason > static_cast<std::uint8_t>(FinishReason::kCancelled)) r.fail("unknown finish reason");
  g->finish_reason = static_cast<FinishReason>(reason);
  g->queue_s = r.f64();
  g->ttft_s = r.f64();
  g->total_s = r.f64();
  g->token_times_s.resize(r.count(8));
  for (double& t : g->token_times_s) t = r.f64();
  get(r, &g->logprobs);
}

void put(WireWriter& w, const WorkerInfo& info) {
  w.u32(info.capabilities);
  w.u64(info.weights_bytes);
  w.u64(info.instance_bytes);
  w.u64(info.max_sequence_tokens);
  w.str(info.describe);
}

void get(WireReader& r, WorkerInfo* info) {
  info->capabilities = r.u32();
  info->weights_bytes = r.u64();
  info->instance_bytes = r.u64();
  info->max_sequence_tokens = r.u64();
  info->describe = r.str();
}

Status read_hello(std::string_view message, HelloMessage* out) {
  WireReader r(message);
  get(r, &out->spec);
  get(r, &out->serve);
  return r.finish();
}

Status read_infer_call(std::string_view message, InferCall* out) {
  WireReader r(message);
  out->id = r.str();
  get(r, &out->inputs);
  get(r, &out->parameters);
  out->remaining_ns = r.i64();
  return r.finish();
}

Status read_generate_call(std::string_view message, GenerateCall* out) {
  WireReader r(message);
  get(r, &out->request, &out->stream_text, &out->stream_logprobs);
  out->remaining_ns = r.i64();
  return r.finish();
}

Status read_count_tokens_call(std::string_view message, std::string* text) {
  WireReader r(message);
  *text = r.str();
  return r.finish();
}

Status read_load_failed(std::string_view message, Status* why) {
  WireReader r(message);
  get(r, why);
  return r.finish();
}

Status read_ready(std::string_view message, WorkerInfo* info) {
  WireReader r(message);
  get(r, info);
  return r.finish();
}

Status read_text(std::string_view message, TextMessage* out) {
  WireReader r(message);
  out->is_logprobs = r.u8() != 0;
  if (out->is_logprobs) {
    get(r, &out->logprobs);
  } else {
    out->piece = r.str();
  }
  return r.finish();
}

Status read_infer_reply(std::string_view message, InferReply* out) {
  WireReader r(message);
  get(r, &out->status);
  if (r.ok() && out->status.ok()) {
    out->worker_wait_ns = r.i64();
    out->run_ns = r.i64();
    get(r, &out->outputs);
    if (r.boolean()) {
      GenerationResult g;
      get(r, &g);
      out->generation = std::move(g);
    }
  }
  return r.finish();
}

Status read_generate_reply(std::string_view message, Status* status, GenerationResult* result) {
  WireReader r(message);
  get(r, status);
  if (r.ok() && status->ok()) get(r, result);
  return r.finish();
}

Status read_count_tokens_reply(std::string_view message, Status* status, std::uint64_t* count) {
  WireReader r(message);
  get(r, status);
  if (r.ok() && status->ok()) *count = r.u64();
  return r.finish();
}

}  // namespace modelpool::process
