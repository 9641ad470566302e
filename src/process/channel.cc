#include "process/channel.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace modelpool::process {

Result<std::pair<Channel, Channel>> Channel::pair() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    return internal_error(std::string("socketpair: ") + std::strerror(errno));
  }
  Channel server(fds[0]), worker(fds[1]);
  const int on = 1;
  if (setsockopt(fds[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0) {
    return internal_error(std::string("SO_PASSCRED: ") + std::strerror(errno));
  }
  // Room for the largest message in each direction.
  const int buffer = static_cast<int>(2 * kMaxMessageBytes);
  for (int fd : fds) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  return std::make_pair(std::move(server), std::move(worker));
}

Channel::~Channel() {
  if (fd_ >= 0) close(fd_);
}

Channel& Channel::operator=(Channel&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

int Channel::release() { return std::exchange(fd_, -1); }

Status Channel::send(std::string_view message, int pass_fd) const {
  if (message.size() >= kMaxMessageBytes) {
    return invalid_argument_error("a worker message of " + std::to_string(message.size()) +
                                  " bytes is over the channel's limit of " + std::to_string(kMaxMessageBytes));
  }
  iovec iov{const_cast<char*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
  }
  for (;;) {
    if (sendmsg(fd_, &msg, MSG_NOSIGNAL) >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EPIPE || errno == ECONNRESET || errno == EBADF || errno == ENOTCONN) {
      return shutting_down_error("the worker channel is closed");
    }
    return internal_error(std::string("sendmsg: ") + std::strerror(errno));
  }
}

Result<Received> Channel::receive() const {
  Received out;
  // One buffer per receiving thread: a message is copied out at its size,
  // not zero-filled at the limit first.
  thread_local std::string buffer(kMaxMessageBytes, '\0');
  iovec iov{buffer.data(), buffer.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(ucred))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == ECONNRESET || errno == EBADF) return shutting_down_error("the worker channel is closed");
    return internal_error(std::string("recvmsg: ") + std::strerror(errno));
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      // Keep the first descriptor; close any more a peer pushed at us.
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (out.fd < 0) {
          out.fd = fd;
        } else {
          close(fd);
        }
      }
    } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      out.peer = PeerCredentials{cred.pid, cred.uid, cred.gid};
    }
  }
  if (n == 0 && out.fd < 0) return shutting_down_error("the worker channel is closed");
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    if (out.fd >= 0) close(out.fd);
    return invalid_argument_error("worker protocol: a message was truncated");
  }
  out.bytes.assign(buffer.data(), static_cast<std::size_t>(n));
  return out;
}

void Channel::shutdown() const {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace modelpool::process
