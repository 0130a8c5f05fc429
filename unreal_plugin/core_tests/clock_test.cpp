// The offset estimator must be cosim/clock.py's algorithm (tests/unreal_plugin also compares
// the two implementations on the same random samples through cosim_check).
#include <gtest/gtest.h>

#include "cosim/clock.h"

namespace {

TEST(Clock, FourTimestampFormulaWithPythonFloorDivision) {
  const cosim::ProbeSample s{100, 1150, 1160, 220};
  EXPECT_EQ(s.rtt_ns(), 110);
  EXPECT_EQ(s.offset_ns(), 995);  // ((1150-100) + (1160-220)) // 2
  const cosim::ProbeSample neg{0, -7, -7, 0};
  EXPECT_EQ(neg.offset_ns(), -7);
  const cosim::ProbeSample odd{0, -3, -4, 0};
  EXPECT_EQ(odd.offset_ns(), -4);  // -7 // 2 == -4 in Python; C++ '/' would give -3
  EXPECT_EQ(cosim::floor_div(-7, 2), -4);
  EXPECT_EQ(cosim::floor_div(7, 2), 3);
  EXPECT_EQ(cosim::floor_div(-8, 2), -4);
}

TEST(Clock, TakesTheInterquartileMeanOfTheFasterHalfOfEachBurst) {
  cosim::OffsetEstimator est(3);
  EXPECT_FALSE(est.offset_ns());
  EXPECT_FALSE(est.add({0, 1000, 1000, 500}));   // rtt 500, offset 750
  EXPECT_FALSE(est.add({0, 1000, 1000, 100}));   // rtt 100, offset 950
  EXPECT_TRUE(est.add({0, 2000, 2000, 300}));    // rtt 300, offset 1850
  EXPECT_EQ(*est.offset_ns(), 1400);             // (950 + 1850) / 2: the faster two of three
  EXPECT_EQ(*est.rtt_ns(), 100);
  EXPECT_EQ(est.bursts(), 1);
  // A negative round trip (a broken sample) is ignored, not counted toward the burst.
  EXPECT_FALSE(est.add({0, 0, 1000, 10}));
  EXPECT_FALSE(est.add({0, 5, 5, 40}));          // rtt 40, offset -15
  EXPECT_FALSE(est.add({0, 6, 6, 40}));          // rtt 40, offset -14 (a tie: both in the faster half)
  EXPECT_TRUE(est.add({0, 9, 9, 100}));
  EXPECT_EQ(*est.offset_ns(), -15);              // floor((-15 + -14) / 2), as Python's //
}

TEST(Clock, RecoversAKnownOffsetFromSymmetricProbes) {
  const int64_t offset = -1'234'567;
  cosim::OffsetEstimator est(8);
  bool done = false;
  for (int k = 0; k < 8; ++k) {
    const int64_t t0 = 1'000'000 * k, d_up = 20'000 + 1'000 * (k % 3), d_down = d_up, work = 5'000;
    const int64_t t1 = t0 + offset + d_up, t2 = t1 + work, t3 = t2 - offset + d_down;
    done = est.add({t0, t1, t2, t3});
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(*est.offset_ns(), offset);
  EXPECT_EQ(*est.rtt_ns(), 40'000);
}

TEST(Clock, MonotonicNow) {
  const int64_t a = cosim::mono_now_ns(), b = cosim::mono_now_ns();
  EXPECT_LE(a, b);
  EXPECT_GT(a, 0);
}

}  // namespace
