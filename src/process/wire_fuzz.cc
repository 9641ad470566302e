// Fuzz target: one message of the worker protocol, as a peer (a crashed,
// confused or hostile worker; a server) could send it. The bytes go through
// the control channel (Channel::send, then Channel::receive on the server's
// end, with credentials, and with a descriptor attached to every other
// message), then through every reader of wire.h, as each receiver reads a
// message of its type: hello, infer, generate and count-tokens calls, the
// worker's load failure, ready, streamed text and the three replies; a
// kRelease's offset is freed in an ArenaAllocator as the worker frees it.
//
// A message that reads back is written again with wire.h's writers and
// must read back the same: a reader and its writer agree.
//
// Corpus: fuzz/corpus/wire (every message type as the server and worker
// write them, from wire_fuzz_seeds in wire_test.cc's style). Replayed by
// ctest fuzz.replay.wire.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "process/arena.h"
#include "process/channel.h"
#include "process/wire.h"

namespace {

using namespace modelpool;
using namespace modelpool::process;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what);
  std::abort();
}

// The message `in` (read from a message with header `h`) written again.
std::string rewrite(const MessageHeader& h, const InferCall& in) {
  WireWriter w(h);
  w.str(in.id);
  put(w, in.inputs);
  put(w, in.parameters);
  w.i64(in.remaining_ns);
  return w.take();
}
std::string rewrite(const MessageHeader& h, const GenerateCall& in) {
  GenerationRequest g = in.request;
  if (in.stream_text) g.on_text = [](std::string_view) { return true; };
  if (in.stream_logprobs) g.on_logprobs = [](std::span<const TokenLogprob>) {};
  WireWriter w(h);
  put(w, g);
  w.i64(in.remaining_ns);
  return w.take();
}
std::string rewrite(const MessageHeader& h, const HelloMessage& in) {
  WireWriter w(h);
  put(w, in.spec);
  put(w, in.serve);
  return w.take();
}
std::string rewrite(const MessageHeader& h, const InferReply& in) {
  WireWriter w(h);
  put(w, in.status);
  if (in.status.ok()) {
    w.i64(in.worker_wait_ns);
    w.i64(in.run_ns);
    put(w, in.outputs);
    w.boolean(in.generation.has_value());
    if (in.generation) put(w, *in.generation);
  }
  return w.take();
}

// Reads `message` as a `Message` with `read`; when it reads, writes it again
// and checks that the writing reads back to the same bytes once more.
template <typename Message, typename Read>
void read_and_rewrite(std::string_view message, Read read) {
  Message first;
  if (!read(message, &first).ok()) return;
  const MessageHeader h = WireReader(message).header();
  const std::string again = rewrite(h, first);
  Message second;
  if (!read(again, &second).ok()) fail("a message written again does not read back");
  if (rewrite(h, second) != again) fail("a message written again reads back different");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto channels = Channel::pair();
  static const int spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (!channels.ok() || spare_fd < 0) fail("no channel");
  if (size >= kMaxMessageBytes) return 0;  // send() refuses it: never received
  const Channel& server_end = channels->first;
  const Channel& worker_end = channels->second;

  const std::string_view sent(reinterpret_cast<const char*>(data), size);
  if (!worker_end.send(sent, size % 2 == 1 ? spare_fd : -1).ok()) fail("send");
  Result<Received> got = server_end.receive();
  if (size == 0 && !got.ok()) return 0;  // an empty message reads as the end of the stream
  if (!got.ok()) fail("receive");
  if (got->fd >= 0) close(got->fd);
  if (got->bytes != sent) fail("the channel changed the message");
  if (!got->peer || got->peer->pid != getpid()) fail("no credentials");
  const std::string_view message = got->bytes;

  // Server -> worker.
  read_and_rewrite<HelloMessage>(message, read_hello);
  read_and_rewrite<InferCall>(message, read_infer_call);
  read_and_rewrite<GenerateCall>(message, read_generate_call);
  std::string text;
  read_count_tokens_call(message, &text).ignore();
  WireReader release(message);
  ArenaAllocator outputs(1 << 20, 1 << 20);
  const std::optional<std::uint64_t> block = outputs.allocate(100);
  const std::uint64_t offset = release.u64();
  if (outputs.free(offset) != (block && offset == *block)) fail("freed a block that is not one");

  // Worker -> server.
  Status why;
  read_load_failed(message, &why).ignore();
  WorkerInfo info;
  read_ready(message, &info).ignore();
  TextMessage piece;
  read_text(message, &piece).ignore();
  read_and_rewrite<InferReply>(message, read_infer_reply);
  Status status;
  GenerationResult result;
  read_generate_reply(message, &status, &result).ignore();
  std::uint64_t count = 0;
  read_count_tokens_reply(message, &status, &count).ignore();
  return 0;
}
