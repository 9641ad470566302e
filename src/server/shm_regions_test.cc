#include "server/shm_regions.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "testing/client_shm.h"

namespace modelpool::server {
namespace {

using test_support::ClientShm;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// Whether the page holding `p` is mapped in this process (mincore fails
// with ENOMEM on an unmapped page).
bool mapped(const void* p) {
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  void* start = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~(page - 1));
  unsigned char v = 0;
  return mincore(start, 1, &v) == 0;
}

void expect_error(const Status& s, StatusCode code, std::string_view needle) {
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_TRUE(contains(s.message(), needle)) << s.message() << "\nwant: " << needle;
}

TEST(ShmRegistryTest, MapsTheClientsRangeBothWays) {
  ClientShm client(3 * 4096);
  std::memcpy(client.data() + 4096 + 100, "hello, server", 13);
  ShmRegistry regions;
  // An offset that is not page-aligned: the mapping starts at its page.
  ASSERT_TRUE(regions.register_region("r", client.key(), 4096 + 100, 64).ok());
  EXPECT_EQ(regions.size(), 1u);

  Result<ShmSlice> s = regions.slice("r", 0, 13);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->buffer(), "hello, server");
  EXPECT_EQ(s->region(), "r");
  // The server's writes reach the client's object.
  Result<ShmSlice> out = regions.slice("r", 32, 8);
  ASSERT_TRUE(out.ok());
  out->write("written!");
  EXPECT_EQ(std::string_view(client.data() + 4096 + 100 + 32, 8), "written!");
  // The client's later writes are seen (MAP_SHARED, not a copy).
  client.data()[4096 + 100] = 'J';
  EXPECT_EQ(s->buffer().view().substr(0, 5), "Jello");

  const std::vector<ShmRegionStatus> all = regions.status();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "r");
  EXPECT_EQ(all[0].key, client.key());
  EXPECT_EQ(all[0].offset, 4096u + 100);
  EXPECT_EQ(all[0].byte_size, 64u);
  Result<ShmRegionStatus> one = regions.status("r");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->key, client.key());
}

TEST(ShmRegistryTest, RefusesARangePastTheObjectNamingTheRegion) {
  ClientShm client(4096);
  ShmRegistry regions;
  expect_error(regions.register_region("r", client.key(), 0, 4097), StatusCode::kInvalidArgument,
               "failed to register shared memory region 'r': offset 0 + byte_size 4097 is past the "
               "end of '" +
                   client.key() + "' (4096 bytes)");
  expect_error(regions.register_region("r", client.key(), 4000, 97), StatusCode::kInvalidArgument,
               "offset 4000 + byte_size 97 is past the end");
  expect_error(regions.register_region("r", client.key(), 5000, 1), StatusCode::kInvalidArgument,
               "offset 5000 + byte_size 1 is past the end");
  expect_error(regions.register_region("r", client.key(), UINT64_MAX, 2),
               StatusCode::kInvalidArgument, "is past the end");
  expect_error(regions.register_region("r", client.key(), 0, 0), StatusCode::kInvalidArgument,
               "byte_size: expected an integer >= 1");
  EXPECT_EQ(regions.size(), 0u);
  // The whole object, exactly, is fine.
  EXPECT_TRUE(regions.register_region("r", client.key(), 0, 4096).ok());
  EXPECT_TRUE(regions.register_region("tail", client.key(), 4095, 1).ok());
}

TEST(ShmRegistryTest, RefusesBadKeysAndObjectsThatDoNotExist) {
  ShmRegistry regions;
  expect_error(regions.register_region("r", "no_slash", 0, 1), StatusCode::kInvalidArgument,
               "shared memory region 'r': key 'no_slash' is not a POSIX shared memory name");
  expect_error(regions.register_region("r", "/a/b", 0, 1), StatusCode::kInvalidArgument,
               "key '/a/b'");
  expect_error(regions.register_region("r", "/", 0, 1), StatusCode::kInvalidArgument, "key '/'");
  expect_error(regions.register_region("", "/x", 0, 1), StatusCode::kInvalidArgument,
               "name: required");
  expect_error(
      regions.register_region("r", "/modelpool_test_no_such_object", 0, 1), StatusCode::kInternal,
      "Unable to open shared memory region: '/modelpool_test_no_such_object': No such file");
}

TEST(ShmRegistryTest, ADuplicateNameIsRefusedAndTheFirstStays) {
  ClientShm a(4096), b(8192);
  ShmRegistry regions;
  ASSERT_TRUE(regions.register_region("r", a.key(), 0, 4096).ok());
  expect_error(regions.register_region("r", b.key(), 0, 8192), StatusCode::kInvalidArgument,
               "shared memory region 'r' already in manager");
  EXPECT_EQ(regions.status("r")->key, a.key());
  // One object may back several regions.
  EXPECT_TRUE(regions.register_region("r2", a.key(), 0, 16).ok());
  EXPECT_EQ(regions.size(), 2u);
}

TEST(ShmRegistryTest, UnknownRegionsAreNotFoundAndUnregisteringOneIsANoOp) {
  ShmRegistry regions;
  expect_error(regions.slice("nope", 0, 1).status(), StatusCode::kNotFound,
               "Unable to find shared memory region: 'nope'");
  expect_error(regions.status("nope").status(), StatusCode::kNotFound,
               "Unable to find system shared memory region: 'nope'");
  regions.unregister("nope");
  regions.unregister_all();
  EXPECT_TRUE(regions.status().empty());
}

TEST(ShmRegistryTest, ASliceMustLieWithinTheRegion) {
  ClientShm client(4096);
  ShmRegistry regions;
  ASSERT_TRUE(regions.register_region("r", client.key(), 1000, 100).ok());
  EXPECT_TRUE(regions.slice("r", 0, 100).ok());
  EXPECT_TRUE(regions.slice("r", 100, 0).ok());  // empty, at the end
  expect_error(regions.slice("r", 0, 101).status(), StatusCode::kInvalidArgument,
               "shared memory region 'r': offset 0 + byte_size 101 is past its end (100 bytes)");
  expect_error(regions.slice("r", 101, 0).status(), StatusCode::kInvalidArgument,
               "offset 101 + byte_size 0 is past its end");
  expect_error(regions.slice("r", 60, 41).status(), StatusCode::kInvalidArgument,
               "offset 60 + byte_size 41 is past its end");
  // No wrap-around.
  expect_error(regions.slice("r", 50, UINT64_MAX).status(), StatusCode::kInvalidArgument,
               "is past its end");
  expect_error(regions.slice("r", UINT64_MAX, 2).status(), StatusCode::kInvalidArgument,
               "is past its end");
}

// A request holding a region that is unregistered meanwhile keeps reading
// valid memory; the mapping goes with the last holder.
TEST(ShmRegistryTest, UnregisterWhileABufferIsHeldKeepsTheMappingUntilItGoes) {
  ClientShm client(1 << 20);
  std::memset(client.data(), 'z', 1 << 20);
  ShmRegistry regions;
  ASSERT_TRUE(regions.register_region("r", client.key(), 0, 1 << 20).ok());
  Buffer held;
  {
    Result<ShmSlice> s = regions.slice("r", 4096, 8192);
    ASSERT_TRUE(s.ok());
    held = s->buffer();
  }
  const char* p = held.data();
  EXPECT_NE(p, client.data());  // the server's own mapping, not the client's
  regions.unregister("r");
  EXPECT_EQ(regions.size(), 0u);
  EXPECT_EQ(regions.slice("r", 0, 1).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(mapped(p));
  EXPECT_EQ(held.view(), std::string(8192, 'z'));
  held = Buffer();
  EXPECT_FALSE(mapped(p));  // unmapped with its last holder
  // The object is the client's: still there.
  const int fd = shm_open(client.key().c_str(), O_RDWR, 0);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
}

TEST(ShmRegistryTest, UnregisterAllAndTheRegistrysEndUnmapEverything) {
  ClientShm client(2 * 4096);
  const char* a = nullptr;
  const char* b = nullptr;
  {
    ShmRegistry regions;
    ASSERT_TRUE(regions.register_region("a", client.key(), 0, 4096).ok());
    ASSERT_TRUE(regions.register_region("b", client.key(), 4096, 4096).ok());
    a = regions.slice("a", 0, 1)->data();
    b = regions.slice("b", 0, 1)->data();
    ASSERT_TRUE(mapped(a) && mapped(b));
    regions.unregister_all();
    EXPECT_EQ(regions.size(), 0u);
    EXPECT_FALSE(mapped(a));
    EXPECT_FALSE(mapped(b));
    ASSERT_TRUE(regions.register_region("c", client.key(), 0, 4096).ok());
    a = regions.slice("c", 0, 1)->data();
    ASSERT_TRUE(mapped(a));
  }
  EXPECT_FALSE(mapped(a));  // the registry's end unmaps what it holds
}

// Register, use and unregister from several threads at once (run under
// TSan by the sanitizer build).
TEST(ShmRegistryTest, IsSafeToUseFromManyThreads) {
  ClientShm client(4096);
  std::memset(client.data(), 'q', 4096);
  ShmRegistry regions;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = "r" + std::to_string(t % 2);
      for (int i = 0; i < 200; ++i) {
        const Status s = regions.register_region(name, client.key(), 0, 4096);
        if (!s.ok() && !contains(s.message(), "already in manager")) ++bad;
        if (Result<ShmSlice> x = regions.slice(name, 10, 10);
            x.ok() && x->buffer() != std::string(10, 'q'))
          ++bad;
        regions.status();
        if (i % 3 == 0) regions.unregister(name);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace modelpool::server
