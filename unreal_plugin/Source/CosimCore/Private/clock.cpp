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
  const size_t fast = static_cast<size_t>((burst_ + 1) / 2);
  std::vector<int64_t> offsets;
  for (size_t i = 0; i < fast; ++i) offsets.push_back(current_[i].offset_ns());
  std::sort(offsets.begin(), offsets.end());
  const size_t k = offsets.size() / 4;  // the interquartile mean: without the quarter at either end
  int64_t sum = 0;
  for (size_t i = k; i < offsets.size() - k; ++i) sum += offsets[i];
  offset_ = floor_div(sum, static_cast<int64_t>(offsets.size() - 2 * k));
  rtt_ = current_.front().rtt_ns();
  current_.clear();
  ++bursts_;
  return true;
}

std::optional<int64_t> OffsetEstimator::offset_ns() const { return offset_; }

std::optional<int64_t> OffsetEstimator::rtt_ns() const { return rtt_; }

}  // namespace cosim
