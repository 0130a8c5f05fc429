// SceneState: what the Unreal glue and the CLI client keep from the bus (cosim/scene.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "cosim/protocol.h"
#include "cosim/scene.h"
#include "cosim/vehicles.h"
#include "messages.h"

namespace {

using namespace cosim_test;

// n vehicles at rest, named by table version ids_version, lights in force lights_version
cosim::Decoded scene_table(int64_t t_ns, std::vector<uint32_t> handles, int64_t ids_version, int64_t lights_version = 0) {
  const size_t n = handles.size();
  return table(t_ns, std::move(handles), std::vector<float>(n * 3, 100.0f), std::vector<float>(n, 0.0f),
               std::vector<float>(n, 500.0f), ids_version, lights_version);
}

cosim::Decoded asset(int64_t n) {
  return asset_msg(std::vector<float>(static_cast<size_t>(n) * 3, 0.5f), {0, 1, 2}, n);
}

cosim::Decoded residuals(int64_t n, uint16_t half) {
  cosim::Residuals r;
  r.asset = "skirt";
  std::vector<uint16_t> offsets(static_cast<size_t>(n) * 3, half);
  return cosim::Decoded{"refine.residuals", r, {arr("offsets", "<f2", {n, 3}, offsets)}};
}

cosim::Decoded pose(const char* device, int64_t sample_ns) {
  cosim::Pose p;
  p.device = device;
  p.sample_ns = sample_ns;
  p.t_ns = sample_ns + 1000;
  p.position = {1.0, 2.0, 3.0};
  return cosim::Decoded{"pose", p, {}};
}

TEST(Scene, SubscribesToTheAreaOrTheWholeTable) {
  cosim::SceneOptions area;
  area.area = true;
  area.garment_asset = "skirt";
  const auto t = cosim::SceneState(area).topics();
  EXPECT_EQ(t.front(), "area.vehicles");
  EXPECT_NE(std::find(t.begin(), t.end(), "refine.residuals"), t.end());
  EXPECT_EQ(cosim::SceneState(cosim::SceneOptions{}).topics().front(), "sumo.vehicles");
  area.pose_device = "";  // the renderer reads its headset itself
  const auto own = cosim::SceneState(area).topics();
  EXPECT_EQ(std::find(own.begin(), own.end(), "pose"), own.end());
}

TEST(Scene, ALateJoinerAsksForTheIdTableOnceASecond) {
  cosim::SceneState s(cosim::SceneOptions{});
  ASSERT_TRUE(s.on_data(scene_table(1'000'000, {1, 2}, 7, 3), 0));
  auto asked = s.requests(0);
  EXPECT_EQ(asked, (std::vector<std::string>{"sumo.ids", "sumo.tls"}));
  EXPECT_TRUE(s.requests(500'000'000).empty());  // not again within the second
  EXPECT_EQ(s.requests(1'000'000'000).size(), 2u);
  ASSERT_TRUE(s.on_data(ids({1, 2}, 7), 0));
  ASSERT_TRUE(s.on_data(scene_table(2'000'000, {1, 2}, 7, 0), 0));
  EXPECT_TRUE(s.requests(5'000'000'000).empty());
  const auto changes = s.take_changes();
  EXPECT_EQ(changes.spawned.size(), 2u);
  EXPECT_EQ(s.stats().spawned, 2);
  EXPECT_EQ(s.vehicles().info(1)->id, "veh1");
}

TEST(Scene, ResidualsApplyOnlyOnceTheAssetIsKnownAndFits) {
  cosim::SceneOptions o;
  o.garment_asset = "skirt";
  cosim::SceneState s(o);
  std::vector<float> base(9, 1.0f), out(9, 0.0f);
  ASSERT_TRUE(s.on_data(residuals(3, 0x3c00), 0));  // offsets of 1.0 before any ASSET
  auto r = s.apply_garment(base.data(), 3, 1.0f, out.data());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r.value());
  EXPECT_EQ(s.requests(0), (std::vector<std::string>{"refine.asset"}));
  ASSERT_TRUE(s.on_data(asset(3), 0));
  ASSERT_TRUE(s.on_data(residuals(3, 0x3c00), 0));
  r = s.apply_garment(base.data(), 3, 100.0f, out.data());
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r.value());
  EXPECT_FLOAT_EQ(out[0], 101.0f);
  EXPECT_EQ(s.applied_frame(), 0);
  EXPECT_TRUE(s.requests(10'000'000'000).empty());  // known now: no more asking
  ASSERT_TRUE(s.on_data(residuals(3, 0x3c00), 0));
  EXPECT_FALSE(s.apply_garment(base.data(), 2, 1.0f, out.data()));  // a mesh of another size is refused
  EXPECT_EQ(s.stats().residuals_applied, 1);
  EXPECT_EQ(s.stats().residuals_refused, 1);
  ASSERT_TRUE(s.on_data(residuals(3, 0x3c00), 0));
  cosim::Residuals other;
  other.asset = "shirt";  // another asset's frames are not ours
  EXPECT_TRUE(s.on_data(cosim::Decoded{"refine.residuals", other, {arr("offsets", "<f2", {1, 3}, std::vector<uint16_t>(3, 0))}}, 0));
  EXPECT_EQ(s.stats().residual_frames, 4);
  s.set_garment_asset("shirt");  // a garment registered later: its asset is asked for
  EXPECT_FALSE(s.asset());
  EXPECT_EQ(s.requests(20'000'000'000), (std::vector<std::string>{"refine.asset"}));
}

TEST(Scene, KeepsTheNewestPoseOfTheRenderedDevice) {
  cosim::SceneState s(cosim::SceneOptions{});
  ASSERT_TRUE(s.on_data(pose("controller_1", 50), 1));
  EXPECT_FALSE(s.pose());
  ASSERT_TRUE(s.on_data(pose("hmd", 100), 7));
  ASSERT_TRUE(s.on_data(pose("hmd", 90), 8));  // an older sample does not replace a newer one
  ASSERT_TRUE(s.pose());
  EXPECT_EQ(s.pose()->sample_ns, 100);
  EXPECT_EQ(s.pose()->bus_ns, 1100);
  EXPECT_EQ(s.pose()->recv_ns, 7);
}

TEST(Scene, ABadMessageIsAnErrorAndChangesNothing) {
  cosim::SceneState s(cosim::SceneOptions{});
  ASSERT_TRUE(s.on_data(ids({1}, 1), 0));
  cosim::Vehicles v;
  v.ids_version = 1;
  const cosim::Decoded bad{"sumo.vehicles", v, {arr("handle", "<u4", {1}, std::vector<uint32_t>{1})}};  // no positions
  const auto r = s.on_data(bad, 0);
  EXPECT_FALSE(r);
  EXPECT_NE(r.error().find("position_cm"), std::string::npos) << r.error();
  EXPECT_EQ(s.stats().errors, 1);
  EXPECT_EQ(s.vehicles().size(), 0u);
}

TEST(Scene, TheHudShowsThisClientsLineOfTheStatus) {
  cosim::SceneOptions o;
  o.client_name = "unreal";
  cosim::SceneState s(o);
  EXPECT_NE(s.hud_line(5, false).find("joining | frame 5 | behind ?"), std::string::npos) << s.hud_line(5, false);
  cosim::Status st;
  cosim::ClientStatus other, me;
  other.name = "pose";
  other.frames_behind = 9;
  me.name = "unreal";
  me.frames_behind = 2;
  me.offset_us = 12.25;
  st.clients = {other, me};
  s.on_session(cosim::Decoded{"session", st, {}});
  const std::string line = s.hud_line(7, true);
  EXPECT_NE(line.find("joined | frame 7 | behind 2 | offset 12.2 us"), std::string::npos) << line;
}

}  // namespace
