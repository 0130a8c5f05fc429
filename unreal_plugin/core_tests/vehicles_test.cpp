#include <gtest/gtest.h>

#include <cmath>

#include "cosim/protocol.h"
#include "cosim/units.h"
#include "cosim/vehicles.h"
#include "messages.h"

namespace {

using namespace cosim_test;

TEST(Units, SumoToUnrealMatchesTheBridgeConvention) {
  const auto p = cosim::units::sumo_to_unreal_cm(12.5, 3.0, 1.0, {2.5, 1.0, 0.0});
  EXPECT_DOUBLE_EQ(p[0], 1000.0);   // east -> +X
  EXPECT_DOUBLE_EQ(p[1], -200.0);   // north -> -Y
  EXPECT_DOUBLE_EQ(p[2], 100.0);
  EXPECT_DOUBLE_EQ(cosim::units::sumo_heading_to_unreal_yaw(90.0), 0.0);    // heading east = +X
  EXPECT_DOUBLE_EQ(cosim::units::sumo_heading_to_unreal_yaw(180.0), 90.0);  // south = +Y
  EXPECT_DOUBLE_EQ(cosim::units::sumo_heading_to_unreal_yaw(0.0), -90.0);   // north = -Y
  EXPECT_DOUBLE_EQ(cosim::units::sumo_heading_to_unreal_yaw(270.0), 180.0); // west; -180 maps to 180
  const auto v = cosim::units::velocity_cms(100.0, 90.0, 0.0);
  EXPECT_NEAR(v[0], 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(v[1], 100.0);
}

TEST(Vehicles, ParsesTheGoldenColumnsAndRejectsBadOnes) {
  auto ok = cosim::parse_vehicle_table(table(0, {0, 5}, {1, 2, 3, 4, 5, 6}, {0, 90}, {10, 20}));
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok.value()[1].handle, 5u);
  EXPECT_EQ(ok.value()[1].position_cm[2], 6.0);
  auto bad = table(0, {0, 5}, {1, 2, 3, 4, 5, 6}, {0, 90}, {10, 20});
  bad.arrays[2] = arr("yaw_deg", "<f4", {1}, std::vector<float>{0});
  auto r = cosim::parse_vehicle_table(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("column 'yaw_deg' must be <f4 of 2 values"), std::string::npos);
  auto nan = cosim::parse_vehicle_table(table(0, {0}, {1, NAN, 3}, {0}, {10}));
  EXPECT_FALSE(nan);
}

TEST(Vehicles, HermiteHitsTheKnotsWithTheirVelocities) {
  cosim::VehicleState a{1, {0, 0, 0}, 0, 0, 1000};      // 10 m/s along +X
  cosim::VehicleState b{1, {1000, 0, 0}, 0, 0, 1000};   // 1 s later, 10 m further
  const int64_t span = 1'000'000'000;
  EXPECT_DOUBLE_EQ(cosim::hermite(a, b, span, 0.0).position_cm[0], 0.0);
  EXPECT_DOUBLE_EQ(cosim::hermite(a, b, span, 1.0).position_cm[0], 1000.0);
  EXPECT_NEAR(cosim::hermite(a, b, span, 0.25).position_cm[0], 250.0, 1e-9);  // constant speed: linear
  // A turn from yaw 170 to -170 goes the short way, through 180.
  cosim::VehicleState c{1, {0, 0, 0}, 170, 0, 0}, d{1, {0, 0, 0}, -170, 0, 0};
  EXPECT_DOUBLE_EQ(cosim::hermite(c, d, span, 0.5).yaw_deg, 180.0);
  // Numeric derivative at the knots equals the tangent (C1 across tables).
  cosim::VehicleState e{1, {0, 0, 0}, 0, 0, 500}, f{1, {300, 400, 0}, 90, 0, 800};
  const double h = 1e-6;
  const auto p0 = cosim::hermite(e, f, span, 0.0).position_cm, p1 = cosim::hermite(e, f, span, h).position_cm;
  EXPECT_NEAR((p1[0] - p0[0]) / h / 1.0, 500.0, 1e-2);
  const auto q0 = cosim::hermite(e, f, span, 1.0 - h).position_cm, q1 = cosim::hermite(e, f, span, 1.0).position_cm;
  EXPECT_NEAR((q1[1] - q0[1]) / h, 800.0, 1e-2);
}

TEST(Vehicles, SceneSpawnsMovesAndDespawns) {
  cosim::VehicleScene scene(50'000'000);
  ASSERT_TRUE(scene.apply_table(table(100, {0, 1}, {0, 0, 0, 0, 100, 0}, {0, 0}, {1000, 0})));
  EXPECT_TRUE(scene.needs_ids());
  EXPECT_TRUE(scene.take_changes().spawned.empty());  // no types yet: nothing to spawn
  auto bad = ids({0, 1});
  bad.arrays.pop_back();  // no colours
  const cosim::Outcome refused = scene.apply_ids(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("missing array 'color'"), std::string::npos);
  EXPECT_TRUE(scene.needs_ids());  // nothing applied
  ASSERT_TRUE(scene.apply_ids(ids({0, 1})));
  EXPECT_FALSE(scene.needs_ids());
  auto ch = scene.take_changes();
  EXPECT_EQ(ch.spawned, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(scene.info(1)->type, "bus");
  EXPECT_TRUE(scene.take_changes().spawned.empty());

  const int64_t t1 = 100 + 1'000'000'000;
  ASSERT_TRUE(scene.apply_table(table(t1, {0}, {1000, 0, 0}, {0}, {1000})));
  ch = scene.take_changes();
  EXPECT_EQ(ch.despawned, (std::vector<uint32_t>{1}));
  EXPECT_NEAR(scene.evaluate(0, 100 + 500'000'000)->position_cm[0], 500.0, 1e-3);
  // Past the newest table: straight on for at most 50 ms, then hold.
  EXPECT_NEAR(scene.evaluate(0, t1 + 20'000'000)->position_cm[0], 1020.0, 1e-3);
  EXPECT_NEAR(scene.evaluate(0, t1 + 900'000'000)->position_cm[0], 1050.0, 1e-3);
  EXPECT_FALSE(scene.evaluate(1, t1));
  // A stale table is ignored.
  ASSERT_TRUE(scene.apply_table(table(50, {7}, {0, 0, 0}, {0}, {0})));
  EXPECT_EQ(scene.size(), 1u);
}

}  // namespace

namespace {

TEST(Vehicles, SignalsAndTheBodyCentre) {
  auto t = table(100, {3}, {1000, 0, 0}, {90}, {0});  // front bumper at X 10 m, heading +Y (south)
  t.arrays.push_back(arr("signals", "<u2", {1}, std::vector<uint16_t>{8 | 2}));
  auto rows = cosim::parse_vehicle_table(t);
  ASSERT_TRUE(rows) << rows.error();
  EXPECT_EQ(rows.value()[0].signals, 10);  // brake light and left blinker
  t.arrays.back() = arr("signals", "<u4", {1}, std::vector<uint32_t>{8});
  EXPECT_FALSE(cosim::parse_vehicle_table(t));  // the wrong dtype is named, not misread

  cosim::VehicleInfo car{"veh3", "car", "passenger", {450.0f, 180.0f, 150.0f}, {0, 0, 0, 0}};
  const cosim::Vec3 c = cosim::body_centre_cm(rows.value()[0], &car);
  EXPECT_NEAR(c[0], 1000.0, 1e-9);
  EXPECT_NEAR(c[1], -225.0, 1e-9);  // half of 4.5 m behind the bumper, against the heading
  const cosim::Vec3 unknown = cosim::body_centre_cm(rows.value()[0], nullptr);
  EXPECT_EQ(unknown[1], 0.0);
}

}  // namespace

namespace {

cosim::Decoded lights(int64_t version, std::vector<std::string> ids, std::vector<std::string> states) {
  cosim::TrafficLights m;
  m.lights_version = version;
  auto arrays = cosim::traffic_lights_arrays(ids, states);
  EXPECT_TRUE(arrays) << arrays.error();
  return cosim::Decoded{"sumo.tls", m, arrays.take()};
}

TEST(Vehicles, TrafficLightsKeepTheNewestStateAndReportChanges) {
  cosim::TrafficLightStates tls;
  EXPECT_TRUE(tls.needs(2));   // a table names version 2, none held: ask
  EXPECT_FALSE(tls.needs(0));  // no lights in the scenario
  ASSERT_TRUE(tls.apply(lights(2, {"C", "J"}, {"GGrr", "rrGG"})));
  EXPECT_FALSE(tls.needs(2));
  EXPECT_EQ(tls.take_changes().size(), 2u);  // everything, the first time
  ASSERT_TRUE(tls.apply(lights(3, {"C", "J"}, {"yyrr", "rrGG"})));
  const auto changed = tls.take_changes();
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].first, "C");
  EXPECT_EQ(changed[0].second, "yyrr");
  ASSERT_TRUE(tls.apply(lights(2, {"C", "J"}, {"GGrr", "rrGG"})));  // older: ignored
  EXPECT_EQ(*tls.state("C"), "yyrr");
  EXPECT_EQ(tls.state("nope"), nullptr);
  cosim::Decoded bad = lights(4, {"C"}, {"G"});
  bad.arrays.pop_back();
  EXPECT_FALSE(tls.apply(bad));  // no states: refused, nothing changes
  EXPECT_EQ(tls.version(), 3);
}

}  // namespace
