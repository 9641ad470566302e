// The worker protocol's encoding: what crosses the control channel between
// the server and a worker process, as bytes.
//
// A message is a fixed header (magic, type, call id) and a body of
// little-endian fields written by WireWriter and read back by WireReader.
// The reader never trusts its input: every read is bounds-checked, a
// string's or vector's length is checked against the bytes left before
// anything is allocated, and the first failure sticks, so a decode reads
// every field and then asks status() once. A peer that sends garbage gets
// kInvalidArgument "worker protocol: ...", never a crash.
//
// Tensor bytes never travel here: a tensor is a descriptor (offset and size
// in the shared arena, arena.h); only names, shapes and parameters do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "modelpool/backend.h"
#include "modelpool/generation.h"
#include "modelpool/model.h"
#include "modelpool/status.h"

namespace modelpool::process {

inline constexpr std::uint32_t kWireMagic = 0x4d504c31;  // "MPL1"

enum class MessageType : std::uint16_t {
  kHello = 1,     // server -> worker: spec and serving settings; the arena fd rides along
  kReady,         // worker -> server: loaded; capabilities and sizes
  kLoadFailed,    // worker -> server: loading failed; the status
  kInfer,         // server -> worker: a Request, inputs in the arena
  kGenerate,      // server -> worker: a GenerationRequest
  kCountTokens,   // server -> worker: text
  kCancel,        // server -> worker: stop call `call`
  kRelease,       // server -> worker: done with the output block at offset (inputs are
                  // the server's own: freed when their call's kDone arrives)
  kPing,          // server -> worker
  kPong,          // worker -> server
  kText,          // worker -> server: a streamed piece (and its logprobs)
  kDone,          // worker -> server: a call's status and result
  kShutdown,      // server -> worker: finish and exit
};

struct MessageHeader {
  std::uint32_t magic = kWireMagic;
  MessageType type{};
  std::uint16_t flags = 0;
  std::uint64_t call = 0;  // the call a message belongs to; 0: none
};
inline constexpr std::size_t kHeaderBytes = 16;

class WireWriter {
 public:
  explicit WireWriter(MessageHeader header);

  void u8(std::uint8_t v) { raw(&v, 1); }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void u64(std::uint64_t v) { raw(&v, 8); }
  void i64(std::int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void str(std::string_view s) {
    u64(s.size());
    raw(s.data(), s.size());
  }

  // The message so far, header included.
  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class WireReader {
 public:
  // Reads the header; a short message or a bad magic fails status().
  explicit WireReader(std::string_view message);

  const MessageHeader& header() const { return header_; }

  std::uint8_t u8() { return fixed<std::uint8_t>(); }
  std::uint32_t u32() { return fixed<std::uint32_t>(); }
  std::uint64_t u64() { return fixed<std::uint64_t>(); }
  std::int64_t i64() { return fixed<std::int64_t>(); }
  double f64() { return fixed<double>(); }
  bool boolean() { return u8() != 0; }
  std::string str();
  // A count of items each at least `min_item_bytes` long: fails (and
  // returns 0) when the bytes left cannot hold that many.
  std::size_t count(std::size_t min_item_bytes);

  bool ok() const { return error_.empty(); }
  // Fails with `what` unless already failed.
  void fail(std::string what);
  // kInvalidArgument "worker protocol: WHAT" after a failure; also fails
  // when bytes are left over (a field the reader did not expect).
  Status finish() const;
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }

 private:
  template <typename T>
  T fixed() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    if (left() < sizeof(T)) {
      fail("message truncated");
      p_ = end_;
      return v;
    }
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }

  MessageHeader header_;
  const char* p_;
  const char* end_;
  std::string error_;
};

// Where a tensor's bytes lie in the arena.
struct TensorRef {
  std::string name;
  std::string datatype;
  std::vector<std::int64_t> shape;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

void put(WireWriter& w, const TensorRef& t);
void get(WireReader& r, TensorRef* t);
void put(WireWriter& w, const std::vector<TensorRef>& ts);
void get(WireReader& r, std::vector<TensorRef>* ts);
void put(WireWriter& w, const Parameters& p);
void get(WireReader& r, Parameters* p);
void put(WireWriter& w, const Status& s);
void get(WireReader& r, Status* s);
void put(WireWriter& w, const ModelSpec& spec);
void get(WireReader& r, ModelSpec* spec);
void put(WireWriter& w, const ServeOptions& serve);
void get(WireReader& r, ServeOptions* serve);
// Everything but the callbacks; `streams` says whether on_text (and
// on_logprobs) were set, so the worker streams back only what is wanted.
void put(WireWriter& w, const GenerationRequest& g);
void get(WireReader& r, GenerationRequest* g, bool* stream_text, bool* stream_logprobs);
void put(WireWriter& w, const GenerationResult& g);
void get(WireReader& r, GenerationResult* g);
void put(WireWriter& w, const std::vector<TokenLogprob>& entries);
void get(WireReader& r, std::vector<TokenLogprob>* entries);

// What a worker reports once its model is open.
struct WorkerInfo {
  Capabilities capabilities = 0;
  std::uint64_t weights_bytes = 0;
  std::uint64_t instance_bytes = 0;
  std::uint64_t max_sequence_tokens = 0;
  std::string describe;
};
void put(WireWriter& w, const WorkerInfo& info);
void get(WireReader& r, WorkerInfo* info);

// ---- Whole messages, as their receivers read them (the senders write them
// in worker_client.cc and worker_main.cc). Each takes a message, header
// included, whose type its receiver has already dispatched on, and returns
// kInvalidArgument "worker protocol: ..." when its body is not that
// message's: a field cut short or out of range, bytes left over. Nothing
// else is checked here: offsets are checked against the arena by the side
// that maps it. src/process/wire_fuzz.cc runs every one of them on
// arbitrary bytes.

// Server -> worker.
struct HelloMessage {  // kHello (the arena's descriptor rides along)
  ModelSpec spec;
  ServeOptions serve;
};
Status read_hello(std::string_view message, HelloMessage* out);

struct InferCall {  // kInfer
  std::string id;
  std::vector<TensorRef> inputs;  // in the arena's input half
  Parameters parameters;
  std::int64_t remaining_ns = -1;  // until the deadline; < 0: none
};
Status read_infer_call(std::string_view message, InferCall* out);

struct GenerateCall {  // kGenerate
  GenerationRequest request;  // without its callbacks
  bool stream_text = false;   // whether the caller wants on_text pieces (kText)
  bool stream_logprobs = false;
  std::int64_t remaining_ns = -1;
};
Status read_generate_call(std::string_view message, GenerateCall* out);

// kCountTokens: the text.
Status read_count_tokens_call(std::string_view message, std::string* text);

// Worker -> server.
// kLoadFailed: why.
Status read_load_failed(std::string_view message, Status* why);
// kReady.
Status read_ready(std::string_view message, WorkerInfo* info);

struct TextMessage {  // kText: a streamed piece of text, or of logprobs
  bool is_logprobs = false;
  std::string piece;
  std::vector<TokenLogprob> logprobs;
};
Status read_text(std::string_view message, TextMessage* out);

// kDone of a kInfer call.
struct InferReply {
  Status status;  // the call's; the rest is set only when it is ok
  std::int64_t worker_wait_ns = 0;
  std::int64_t run_ns = 0;
  std::vector<TensorRef> outputs;  // in the arena (an echoed input: the input half)
  std::optional<GenerationResult> generation;
};
Status read_infer_reply(std::string_view message, InferReply* out);

// kDone of a kGenerate call: its status and, when ok, its result.
Status read_generate_reply(std::string_view message, Status* status, GenerationResult* result);

// kDone of a kCountTokens call: its status and, when ok, the count.
Status read_count_tokens_reply(std::string_view message, Status* status, std::uint64_t* count);

}  // namespace modelpool::process
