#include "process/arena.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "process/channel.h"

namespace modelpool::process {
namespace {

TEST(ArenaAllocator, FirstFitAlignedAndCoalescing) {
  ArenaAllocator a(4096, 1024);
  auto x = a.allocate(1);
  auto y = a.allocate(100);
  auto z = a.allocate(64);
  ASSERT_TRUE(x && y && z);
  EXPECT_EQ(*x, 4096u);
  EXPECT_EQ(*y, 4096u + 64);
  EXPECT_EQ(*z, 4096u + 64 + 128);
  EXPECT_EQ(a.used(), 64u + 128 + 64);
  EXPECT_FALSE(a.allocate(1024)) << "only 768 bytes are free";
  EXPECT_TRUE(a.free(*y));
  EXPECT_FALSE(a.free(*y)) << "a block freed twice";
  EXPECT_FALSE(a.free(4097)) << "no block starts there";
  EXPECT_TRUE(a.free(*x));
  EXPECT_TRUE(a.free(*z));
  EXPECT_EQ(a.used(), 0u);
  auto all = a.allocate(1024);  // the free runs merged back into one
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 4096u);
}

TEST(SharedArena, IsASealedMemfdWithoutAName) {
  auto arena = SharedArena::create(1 << 20);
  ASSERT_TRUE(arena.ok()) << arena.status().message();
  EXPECT_EQ((*arena)->size(), std::size_t{1} << 20);
  EXPECT_EQ(ftruncate((*arena)->fd(), 1 << 21), -1) << "sealed against growing";
  char link[256] = {};
  const std::string proc = "/proc/self/fd/" + std::to_string((*arena)->fd());
  ASSERT_GT(readlink(proc.c_str(), link, sizeof link - 1), 0);
  EXPECT_EQ(std::string(link).rfind("/memfd:modelpool-arena", 0), 0u) << link;

  // What one mapping writes the other reads: the same pages.
  auto other = SharedArena::attach(fcntl((*arena)->fd(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(other.ok()) << other.status().message();
  std::memcpy((*arena)->data() + 100, "hello", 5);
  EXPECT_EQ(std::string((*other)->data() + 100, 5), "hello");
  EXPECT_EQ((*arena)->offset_of((*arena)->data() + 100, 5), 100u);
  EXPECT_FALSE((*arena)->offset_of((*arena)->data() + (1 << 20) - 2, 5)) << "runs past the end";
  char elsewhere[8];
  EXPECT_FALSE((*arena)->offset_of(elsewhere, 8));
}

TEST(SharedArena, AttachRefusesAnUnsealedFile) {
  const int fd = memfd_create("plain", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  auto arena = SharedArena::attach(fd);
  ASSERT_FALSE(arena.ok());
  EXPECT_NE(arena.status().message().find("sealed"), std::string::npos);
}

TEST(Channel, KeepsMessageBoundariesPassesDescriptorsAndCredentials) {
  auto pair = Channel::pair();
  ASSERT_TRUE(pair.ok());
  auto& [server, worker] = *pair;
  ASSERT_TRUE(worker.send("one").ok());
  ASSERT_TRUE(worker.send("two", STDIN_FILENO).ok());
  auto a = server.receive();
  auto b = server.receive();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->bytes, "one");
  EXPECT_EQ(b->bytes, "two");
  EXPECT_LT(a->fd, 0);
  EXPECT_GE(b->fd, 0);
  close(b->fd);
  ASSERT_TRUE(a->peer.has_value());
  EXPECT_EQ(a->peer->pid, getpid());
  EXPECT_EQ(a->peer->uid, geteuid());

  EXPECT_EQ(worker.send(std::string(kMaxMessageBytes, 'x')).code(), StatusCode::kInvalidArgument);
  worker = Channel();  // closed: the other end sees the end of the stream
  EXPECT_EQ(server.receive().status().code(), StatusCode::kShuttingDown);
}

}  // namespace
}  // namespace modelpool::process
