// MemoryBudget: the bytes a process may spend on its models, shared by all
// of them (a server's `[server] memory_budget`).
//
// Whatever grows reserves first: the registry when it loads weights, a pool
// before it makes an instance. A reservation that would pass the limit is
// refused with an error naming what asked, how much, and what is in use, so
// a server under load stops growing at its budget instead of meeting the
// kernel's OOM killer; callers already waiting are served by what exists.
//
//   auto budget = MemoryBudget::create(6ull << 30);
//   Result<MemoryReservation> r = budget->reserve(bytes, "model 'chat': an instance");
//   if (!r.ok()) return r.status();   // kModelFailed: over budget
//   ...                               // released when r is destroyed
//
// The figures are the models' own accounting (Weights::bytes(),
// Instance::bytes()), not the process's resident memory: what the budget
// bounds is what the models say they hold.
//
// Thread safety: every method may be called from any thread. A reservation
// keeps its budget alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "modelpool/status.h"

namespace modelpool {

class MemoryBudget;

// Bytes held against a MemoryBudget. Move-only; gives them back when
// destroyed or on release(). An empty reservation (default-built, moved-from
// or from a budget-less caller) holds nothing.
class MemoryReservation {
 public:
  MemoryReservation() = default;
  ~MemoryReservation() { release(); }
  MemoryReservation(MemoryReservation&& other) noexcept;
  MemoryReservation& operator=(MemoryReservation&& other) noexcept;
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;

  std::size_t bytes() const { return bytes_; }
  explicit operator bool() const { return budget_ != nullptr; }

  // Holds `bytes` instead of bytes(). Shrinking always succeeds; growing past
  // the limit is refused (kModelFailed, as reserve) and changes nothing.
  // An empty reservation accepts any size and holds nothing.
  Status resize(std::size_t bytes, std::string_view what);

  // Gives the bytes back now (idempotent).
  void release();

 private:
  friend class MemoryBudget;
  MemoryReservation(std::shared_ptr<MemoryBudget> budget, std::size_t bytes)
      : budget_(std::move(budget)), bytes_(bytes) {}

  std::shared_ptr<MemoryBudget> budget_;
  std::size_t bytes_ = 0;
};

// A point-in-time view for metrics.
struct MemoryBudgetSnapshot {
  std::size_t limit = 0;      // bytes; 0: unlimited
  std::size_t used = 0;       // bytes reserved now
  std::size_t peak = 0;       // most bytes reserved at once
  std::uint64_t refused = 0;  // reservations refused since creation
};

class MemoryBudget : public std::enable_shared_from_this<MemoryBudget> {
 public:
  // `limit_bytes` 0: no limit (reservations are counted, never refused).
  static std::shared_ptr<MemoryBudget> create(std::size_t limit_bytes);

  // Holds `bytes` for `what` (a phrase for the error: "model 'chat': an
  // instance"), or kModelFailed when used + bytes would exceed the limit:
  // "memory budget: model 'chat': an instance needs 512.0 MiB, 7.6 GiB of
  // 8.0 GiB in use".
  Result<MemoryReservation> reserve(std::size_t bytes, std::string_view what);

  std::size_t limit() const { return limit_; }
  MemoryBudgetSnapshot snapshot() const;

  // "512.0 MiB", "8.0 GiB": how the budget's errors write sizes.
  static std::string format_bytes(std::size_t bytes);

 private:
  friend class MemoryReservation;
  explicit MemoryBudget(std::size_t limit_bytes) : limit_(limit_bytes) {}
  Status take_locked(std::size_t bytes, std::string_view what);
  void give_back(std::size_t bytes);

  const std::size_t limit_;
  mutable std::mutex mu_;  // a leaf: held for arithmetic only
  std::size_t used_ = 0;
  std::size_t peak_ = 0;
  std::uint64_t refused_ = 0;
};

// Parses a size as a config writes it: "8GiB", "512MiB", "2GB", "1.5GiB",
// "1048576" (bytes); binary (KiB, MiB, GiB, TiB, or K, M, G, T) and decimal
// (kB, MB, GB, TB) units. kInvalidArgument naming the text otherwise.
Result<std::size_t> parse_byte_size(std::string_view text);

}  // namespace modelpool
