// Channel: one end of the control channel between the server and a worker,
// a Unix-domain SOCK_SEQPACKET socket pair: message boundaries are kept, a
// message arrives whole or not at all, and the pair has no name anyone else
// could connect to.
//
// The server's end receives the kernel-checked credentials of every message
// (SO_PASSCRED): it accepts a worker's first message only from the pid it
// started, running as its own user (peer()).
//
// Thread safety: send() from any number of threads (each message is one
// sendmsg, atomic on a SEQPACKET socket); receive() from one thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "modelpool/status.h"

namespace modelpool::process {

// A message this large or larger does not fit the socket's buffer.
inline constexpr std::size_t kMaxMessageBytes = 160 * 1024;

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Received {
  std::string bytes;
  int fd = -1;  // a descriptor passed with SCM_RIGHTS (the receiver owns it), or -1
  std::optional<PeerCredentials> peer;  // with SO_PASSCRED on this end
};

class Channel {
 public:
  // A connected pair: [0] for the server (credentials on), [1] for the
  // worker (inherited by it). Both close-on-exec.
  static Result<std::pair<Channel, Channel>> pair();
  // Adopts `fd` (the worker's inherited end).
  explicit Channel(int fd) : fd_(fd) {}
  Channel() = default;
  ~Channel();
  Channel(Channel&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Channel& operator=(Channel&& other) noexcept;

  int fd() const { return fd_; }
  // Gives up the descriptor without closing it.
  int release();

  // Sends one message, with `pass_fd` attached when >= 0. Never raises
  // SIGPIPE. kInvalidArgument when too large; kShuttingDown when the peer
  // is gone.
  Status send(std::string_view message, int pass_fd = -1) const;
  // Waits for one message. kShuttingDown on end of stream (the peer
  // closed or died); kInvalidArgument for a message that was truncated.
  Result<Received> receive() const;
  // Wakes a receive() blocked in another thread (end of stream) and makes
  // later sends fail.
  void shutdown() const;

 private:
  int fd_ = -1;
};

}  // namespace modelpool::process
