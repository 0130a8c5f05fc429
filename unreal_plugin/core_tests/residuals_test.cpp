#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cosim/protocol.h"
#include "cosim/residuals.h"
#include "messages.h"

namespace {

TEST(Residuals, HalfToFloat) {
  EXPECT_EQ(cosim::half_to_float(0x0000), 0.0f);
  EXPECT_EQ(cosim::half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(cosim::half_to_float(0xc000), -2.0f);
  EXPECT_EQ(cosim::half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(cosim::half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(cosim::half_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(cosim::half_to_float(0x8000), -0.0f);
  EXPECT_TRUE(std::isinf(cosim::half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(cosim::half_to_float(0x7e00)));
}

cosim::Decoded residual_msg(std::vector<uint16_t> halves, int64_t n, const char* dtype = "<f2") {
  cosim::Residuals r;
  r.asset = "skirt";
  r.frame = 10;
  r.base_frame = 9;
  auto a = cosim::make_array("offsets", dtype, {n, 3}, halves.data(), halves.size() * 2);
  EXPECT_TRUE(a) << a.error();
  return cosim::Decoded{"refine.residuals", r, {a.take()}};
}

TEST(Residuals, AppliesScaledOffsetsToTheMeshBuffer) {
  auto frame = cosim::parse_residuals(residual_msg({0x3c00, 0x0000, 0xbc00, 0x3800, 0x3800, 0x3800}, 2));
  ASSERT_TRUE(frame) << frame.error();
  EXPECT_EQ(frame.value().vertex_count(), 2u);
  EXPECT_EQ(frame.value().base_frame, 9);
  const float base[6] = {10, 20, 30, 0, 0, 0};
  float out[6];
  ASSERT_TRUE(cosim::apply_residuals(frame.value(), base, 2, 100.0f, out));
  const float want[6] = {110, 20, -70, 50, 50, 50};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], want[i]);
  float in_place[6] = {1, 1, 1, 1, 1, 1};
  ASSERT_TRUE(cosim::apply_residuals(frame.value(), in_place, 2, 1.0f, in_place));
  EXPECT_EQ(in_place[0], 2.0f);
}

TEST(Residuals, RejectsMismatchedOrBadFrames) {
  auto frame = cosim::parse_residuals(residual_msg({0, 0, 0}, 1));
  ASSERT_TRUE(frame);
  float buf[6] = {};
  auto r = cosim::apply_residuals(frame.value(), buf, 2, 1.0f, buf);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("have 1 vertices, the mesh has 2"), std::string::npos);
  EXPECT_FALSE(cosim::parse_residuals(residual_msg({0x7c00, 0, 0}, 1)));  // inf
  std::vector<uint16_t> f4(6, 0);
  auto wrong = cosim::parse_residuals(residual_msg(f4, 1, "<f4"));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("must be <f2 of shape (n, 3)"), std::string::npos);
}

}  // namespace

namespace {

using cosim_test::asset_msg;

TEST(Asset, AnnouncedTopologyIsReadAndMeshesAreCheckedAgainstIt) {
  auto a = cosim::parse_asset(asset_msg({0, 1, 0, 0.1f, 1, 0, 0, 0.9f, 0.05f}, {0, 1, 2}, 3));
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a.value().vertices, 3u);
  EXPECT_EQ(a.value().faces.size(), 3u);
  EXPECT_FLOAT_EQ(a.value().rest[7], 0.9f);
  EXPECT_TRUE(cosim::check_mesh(a.value(), 3));
  auto bad = cosim::check_mesh(a.value(), 4);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("has 3 vertices, the mesh has 4"), std::string::npos);
}

TEST(Asset, RejectsInconsistentAnnouncements) {
  auto wrong_n = cosim::parse_asset(asset_msg({0, 0, 0, 1, 1, 1}, {0, 1, 1}, 3));
  ASSERT_FALSE(wrong_n);
  EXPECT_NE(wrong_n.error().find("'rest' must be <f4 of shape (3, 3)"), std::string::npos);
  auto out_of_range = cosim::parse_asset(asset_msg({0, 0, 0, 1, 1, 1, 2, 2, 2}, {0, 1, 3}, 3));
  ASSERT_FALSE(out_of_range);
  EXPECT_NE(out_of_range.error().find("indexes vertex 3 of 3"), std::string::npos);
  auto nan = cosim::parse_asset(asset_msg({0, 0, 0, 1, std::nanf(""), 1, 2, 2, 2}, {0, 1, 2}, 3));
  EXPECT_FALSE(nan);
}

}  // namespace
