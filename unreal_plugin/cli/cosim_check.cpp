// Cross-language checks: reads numbers on stdin, answers with the core's result per line, so that
// tests/unreal_plugin can compare the core with cosim/clock.py and bridges/sumo/coords.py.
//   cosim_check clock BURST   lines "t0 t1 t2 t3"        -> "1 OFFSET RTT" when a burst completes, else "0"
//   cosim_check coords        lines "x y z heading slope speed_ms ox oy oz" -> "X Y Z YAW PITCH VX VY VZ"
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cosim/clock.h"
#include "cosim/units.h"

namespace {

int run_clock(int burst) {
  cosim::OffsetEstimator est(burst);
  long long t0, t1, t2, t3;
  while (std::scanf("%lld %lld %lld %lld", &t0, &t1, &t2, &t3) == 4) {
    if (est.add({t0, t1, t2, t3}))
      std::printf("1 %lld %lld\n", static_cast<long long>(*est.offset_ns()), static_cast<long long>(*est.rtt_ns()));
    else
      std::printf("0\n");
  }
  return 0;
}

int run_coords() {
  double x, y, z, heading, slope, speed, ox, oy, oz;
  while (std::scanf("%lf %lf %lf %lf %lf %lf %lf %lf %lf", &x, &y, &z, &heading, &slope, &speed, &ox, &oy, &oz) == 9) {
    const auto p = cosim::units::sumo_to_unreal_cm(x, y, z, {ox, oy, oz});
    const double yaw = cosim::units::sumo_heading_to_unreal_yaw(heading);
    const double pitch = cosim::units::sumo_slope_to_unreal_pitch(slope);
    const auto v = cosim::units::velocity_cms(speed * cosim::units::kCmPerM, yaw, pitch);
    std::printf("%.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n", p[0], p[1], p[2], yaw, pitch, v[0], v[1], v[2]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "clock") == 0) return run_clock(std::atoi(argv[2]));
  if (argc >= 2 && std::strcmp(argv[1], "coords") == 0) return run_coords();
  std::fprintf(stderr, "usage: cosim_check clock BURST | cosim_check coords  (numbers on stdin)\n");
  return 2;
}
