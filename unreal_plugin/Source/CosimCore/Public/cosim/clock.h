// Clock-offset estimation: the algorithm of cosim/clock.py (OffsetEstimator), unchanged.
// offset = master - local from four timestamps; each burst's estimate is the interquartile mean
// (floor) of the offsets of its faster half by round trip: without the quarter of them at either end
// (ties: the earlier sample first, as Python's stable sort).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "cosim/export.h"
#include "cosim/time.h"

namespace cosim {

struct ProbeSample {
  int64_t t0;  // local, client send
  int64_t t1;  // master, server receive
  int64_t t2;  // master, server send
  int64_t t3;  // local, client receive
  int64_t rtt_ns() const { return (t3 - t0) - (t2 - t1); }
  int64_t offset_ns() const { return floor_div((t1 - t0) + (t2 - t3), 2); }
};

class COSIMCORE_API OffsetEstimator {
 public:
  explicit OffsetEstimator(int burst = 8) : burst_(burst < 1 ? 1 : burst) {}
  int burst() const { return burst_; }
  // Adds one probe result; true when it completed a burst (the estimate was updated).
  bool add(const ProbeSample& sample);
  std::optional<int64_t> offset_ns() const;
  std::optional<int64_t> rtt_ns() const;
  int bursts() const { return bursts_; }  // completed bursts

 private:
  int burst_;
  std::vector<ProbeSample> current_;
  std::optional<int64_t> offset_;
  std::optional<int64_t> rtt_;
  int bursts_ = 0;
};

}  // namespace cosim
