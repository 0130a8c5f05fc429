#include "cosim/clock.h"

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
  const ProbeSample* best = &current_.front();
  for (const auto& s : current_)
    if (s.rtt_ns() < best->rtt_ns()) best = &s;  // first of equal minima, like Python's min()
  best_ = *best;
  current_.clear();
  history_.push_back({best_->t3, best_->offset_ns(), best_->rtt_ns()});
  return true;
}

std::optional<int64_t> OffsetEstimator::offset_ns() const {
  return best_ ? std::optional<int64_t>(best_->offset_ns()) : std::nullopt;
}

std::optional<int64_t> OffsetEstimator::rtt_ns() const {
  return best_ ? std::optional<int64_t>(best_->rtt_ns()) : std::nullopt;
}

}  // namespace cosim
