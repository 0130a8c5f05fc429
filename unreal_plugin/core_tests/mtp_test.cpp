#include <gtest/gtest.h>

#include "cosim/mtp.h"

namespace {

TEST(Mtp, PercentilesLikeNumpyLinear) {
  // numpy.percentile([1..10], [50, 95, 99]) == [5.5, 9.55, 9.91]
  std::vector<int64_t> v{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  const auto p = cosim::percentiles(v);
  EXPECT_DOUBLE_EQ(p.p50, 5.5);
  EXPECT_NEAR(p.p95, 9.55, 1e-12);
  EXPECT_NEAR(p.p99, 9.91, 1e-12);
  EXPECT_EQ(p.max, 10);
  EXPECT_EQ(cosim::to_json(cosim::percentiles({})), R"({"p50": null, "p95": null, "p99": null, "max": null})");
}

TEST(Mtp, BreakdownSumsToMotionToPhoton) {
  cosim::MtpTracker t;
  cosim::FrameTimes f;
  f.tick_ns = 1'000'000;
  f.recv_ns = 1'100'000;
  f.present_ns = 4'000'000;
  f.photon_ns = 15'100'000;
  t.record(f);  // no pose: counted as a frame, not in MTP
  f.pose_sample_ns = 500'000;
  f.pose_bus_ns = 700'000;
  f.pose_recv_ns = 900'000;
  t.record(f);
  EXPECT_EQ(t.frames(), 2u);
  EXPECT_EQ(t.frames_with_pose(), 1u);
  const std::string s = t.summary_json();
  EXPECT_NE(s.find(R"("mtp_us": {"p50": 14600.000)"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("pose_to_bus_us": {"p50": 200.000)"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("bus_to_client_us": {"p50": 200.000)"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("client_to_present_us": {"p50": 3100.000)"), std::string::npos) << s;
  EXPECT_NE(s.find(R"("present_to_photon_us": {"p50": 11100.000)"), std::string::npos) << s;
}

TEST(Mtp, DisplayModelMatchesTheHeadlessClient) {
  // client/display.py with refresh 90 Hz (period 11111111 ns), phase 3 ms, photon 11.1 ms.
  cosim::DisplayModel d(11'111'111, 3'000'000, 11'100'000);
  auto a = d.present(1'000'000);  // before the first vsync
  EXPECT_EQ(a.vsync_index, 0);
  EXPECT_EQ(a.present_ns, 3'000'000);
  EXPECT_EQ(a.photon_ns, 14'100'000);
  auto b = d.present(3'000'000 + 2 * 11'111'111 + 1);  // skips vsync 1, lands on 3
  EXPECT_EQ(b.vsync_index, 3);
  EXPECT_EQ(d.missed_vsyncs(), 2);
  d.present(3'000'000 + 2 * 11'111'111 + 5);  // same vsync again: replaces
  EXPECT_EQ(d.replaced(), 1);
  EXPECT_EQ(d.vsync_at_or_after(-5'000'000'000), 0);
}

}  // namespace
