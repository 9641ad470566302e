#include "modelpool/memory_budget.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

namespace modelpool {

MemoryReservation::MemoryReservation(MemoryReservation&& other) noexcept
    : budget_(std::move(other.budget_)), bytes_(std::exchange(other.bytes_, 0)) {}

MemoryReservation& MemoryReservation::operator=(MemoryReservation&& other) noexcept {
  if (this != &other) {
    release();
    budget_ = std::move(other.budget_);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

Status MemoryReservation::resize(std::size_t bytes, std::string_view what) {
  if (budget_ == nullptr) return {};
  if (bytes <= bytes_) {
    budget_->give_back(bytes_ - bytes);
    bytes_ = bytes;
    return {};
  }
  std::lock_guard lock(budget_->mu_);
  if (Status s = budget_->take_locked(bytes - bytes_, what); !s.ok()) return s;
  bytes_ = bytes;
  return {};
}

void MemoryReservation::release() {
  if (budget_ == nullptr) return;
  budget_->give_back(bytes_);
  budget_.reset();
  bytes_ = 0;
}

std::shared_ptr<MemoryBudget> MemoryBudget::create(std::size_t limit_bytes) {
  return std::shared_ptr<MemoryBudget>(new MemoryBudget(limit_bytes));
}

Status MemoryBudget::take_locked(std::size_t bytes, std::string_view what) {
  if (limit_ != 0 && (bytes > limit_ || used_ > limit_ - bytes)) {
    ++refused_;
    return model_failed_error("memory budget: " + std::string(what) + " needs " + format_bytes(bytes) + ", " +
                              format_bytes(used_) + " of " + format_bytes(limit_) + " in use");
  }
  used_ += bytes;
  peak_ = std::max(peak_, used_);
  return {};
}

Result<MemoryReservation> MemoryBudget::reserve(std::size_t bytes, std::string_view what) {
  {
    std::lock_guard lock(mu_);
    if (Status s = take_locked(bytes, what); !s.ok()) return s;
  }
  return MemoryReservation(shared_from_this(), bytes);
}

void MemoryBudget::give_back(std::size_t bytes) {
  std::lock_guard lock(mu_);
  used_ -= std::min(used_, bytes);
}

MemoryBudgetSnapshot MemoryBudget::snapshot() const {
  std::lock_guard lock(mu_);
  return {limit_, used_, peak_, refused_};
}

std::string MemoryBudget::format_bytes(std::size_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) {
    std::snprintf(text, sizeof text, "%zu B", bytes);
  } else {
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  }
  return text;
}

Result<std::size_t> parse_byte_size(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return invalid_argument_error("size '" + std::string(text) + "' " + std::string(why) +
                                  " (write it as 8GiB, 512MiB, 2GB or a number of bytes)");
  };
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number(text.substr(0, i));
  std::string unit(text.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1) return bad("is not a size");
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value)) return bad("is not a size");
  static constexpr std::pair<const char*, double> kUnits[] = {
      {"", 1},          {"B", 1},
      {"K", 0x1p10},    {"KiB", 0x1p10}, {"M", 0x1p20},   {"MiB", 0x1p20},
      {"G", 0x1p30},    {"GiB", 0x1p30}, {"T", 0x1p40},   {"TiB", 0x1p40},
      {"kB", 1e3},      {"KB", 1e3},     {"MB", 1e6},     {"GB", 1e9},
      {"TB", 1e12},
  };
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    const double bytes = value * scale;
    if (bytes >= 0x1p63) return bad("is too large");
    if (scale == 1 && number.find('.') != std::string::npos) return bad("has a fraction of a byte");
    return static_cast<std::size_t>(std::llround(bytes));
  }
  return bad("has an unknown unit '" + unit + "'");
}

}  // namespace modelpool
