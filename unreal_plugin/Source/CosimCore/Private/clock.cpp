#include "cosim/clock.h"

#include <algorithm>
#include <chrono>

namespace cosim {

int64_t mono_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool OffsetEstimator::add(const ProbeSample& sample) {
  if (sample.rtt_ns() < 0) return false;
  current_.push_back(sample);
  if (static_cast<int>(current_.size()) < burst_) return false;
  std::stable_sort(current_.begin(), current_.end(),
                   [](const ProbeSample& a, const ProbeSample& b) { return a.rtt_ns() < b.rtt_ns(); });
  const int64_t fast = (burst_ + 1) / 2;
  int64_t sum = 0;
  for (int64_t i = 0; i < fast; ++i) sum += current_[i].offset_ns();
  offset_ = floor_div(sum, fast);
  rtt_ = current_.front().rtt_ns();
  current_.clear();
  ++bursts_;
  return true;
}

std::optional<int64_t> OffsetEstimator::offset_ns() const { return offset_; }

std::optional<int64_t> OffsetEstimator::rtt_ns() const { return rtt_; }

}  // namespace cosim
