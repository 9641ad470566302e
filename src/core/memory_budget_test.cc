#include "modelpool/memory_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace modelpool {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(MemoryBudgetTest, ReservesUpToTheLimitAndRefusesPastItNamingWhatAsked) {
  auto budget = MemoryBudget::create(10 * kMiB);
  Result<MemoryReservation> a = budget->reserve(6 * kMiB, "model 'a': its weights");
  ASSERT_TRUE(a.ok());
  Result<MemoryReservation> b = budget->reserve(4 * kMiB, "model 'b': an instance");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(budget->snapshot().used, 10 * kMiB);

  Result<MemoryReservation> c = budget->reserve(1, "model 'c': an instance");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kModelFailed);
  EXPECT_EQ(c.status().message(),
            "memory budget: model 'c': an instance needs 1 B, 10.0 MiB of 10.0 MiB in use");
  EXPECT_EQ(budget->snapshot().refused, 1u);

  a->release();
  EXPECT_EQ(budget->snapshot().used, 4 * kMiB);
  EXPECT_TRUE(budget->reserve(6 * kMiB, "model 'c': an instance").ok());  // released at once
  EXPECT_EQ(budget->snapshot().used, 4 * kMiB);
  EXPECT_EQ(budget->snapshot().peak, 10 * kMiB);
}

TEST(MemoryBudgetTest, ResizeGrowsWithinTheLimitAndShrinksAlways) {
  auto budget = MemoryBudget::create(8 * kMiB);
  Result<MemoryReservation> r = budget->reserve(0, "pool 'p': an instance");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->resize(5 * kMiB, "pool 'p': an instance").ok());
  EXPECT_EQ(budget->snapshot().used, 5 * kMiB);
  Status over = r->resize(9 * kMiB, "pool 'p': an instance");
  EXPECT_EQ(over.code(), StatusCode::kModelFailed);
  EXPECT_EQ(r->bytes(), 5 * kMiB);  // unchanged
  EXPECT_TRUE(r->resize(1 * kMiB, "pool 'p': an instance").ok());
  EXPECT_EQ(budget->snapshot().used, 1 * kMiB);

  MemoryReservation moved = std::move(*r);
  EXPECT_EQ(moved.bytes(), 1 * kMiB);
  EXPECT_EQ(budget->snapshot().used, 1 * kMiB);  // moving gives nothing back
  moved = MemoryReservation();
  EXPECT_EQ(budget->snapshot().used, 0u);
}

TEST(MemoryBudgetTest, NoLimitCountsButNeverRefuses) {
  auto budget = MemoryBudget::create(0);
  Result<MemoryReservation> r = budget->reserve(std::size_t{1} << 50, "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(budget->snapshot().used, std::size_t{1} << 50);
}

TEST(MemoryBudgetTest, ConcurrentReservationsNeverPassTheLimit) {
  auto budget = MemoryBudget::create(100);
  std::atomic<int> held{0};
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        Result<MemoryReservation> r = budget->reserve(10, "t");
        if (!r.ok()) continue;
        if (++held > 10) over = true;
        --held;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(over);
  EXPECT_LE(budget->snapshot().peak, 100u);
  EXPECT_EQ(budget->snapshot().used, 0u);
}

TEST(MemoryBudgetTest, ParsesSizesAsConfigsWriteThem) {
  EXPECT_EQ(*parse_byte_size("8GiB"), std::size_t{8} << 30);
  EXPECT_EQ(*parse_byte_size("512MiB"), std::size_t{512} << 20);
  EXPECT_EQ(*parse_byte_size("512M"), std::size_t{512} << 20);
  EXPECT_EQ(*parse_byte_size("1.5GiB"), std::size_t{3} << 29);
  EXPECT_EQ(*parse_byte_size("2GB"), std::size_t{2000000000});
  EXPECT_EQ(*parse_byte_size("64 kB"), std::size_t{64000});
  EXPECT_EQ(*parse_byte_size("1048576"), std::size_t{1} << 20);
  for (const char* bad : {"", "GiB", "8 GiBs", "1.5", "-1GiB", "1.2.3MiB", "99999999999TiB"}) {
    Result<std::size_t> r = parse_byte_size(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("'") + bad + "'"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace modelpool
