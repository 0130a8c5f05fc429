// SUMO -> Unreal axes and units: the only place in the plugin where they are converted. The same
// formulas as bridges/sumo/coords.py (tests/unreal_plugin cross-checks them on random inputs).
//
// SUMO: metres, right-handed, x east, y north, z up; heading degrees clockwise from north.
// Unreal: centimetres, left-handed, X forward (= east), Y right (= south), Z up; yaw degrees about Z,
// 0 along +X, positive from +X towards +Y, in (-180, 180]; pitch degrees, nose up positive.
//   X = (x - ox)*100   Y = -(y - oy)*100   Z = (z - oz)*100   yaw = wrap180(heading - 90)
// The bridge already publishes Unreal units on the bus; the plugin uses these for FCD files,
// tests and any raw SUMO input.
#pragma once
#include <cmath>

#include "cosim/protocol.h"

namespace cosim {
namespace units {

constexpr double kCmPerM = 100.0;

// Degrees into (-180, 180], like numpy: mod(d + 180, 360) - 180 with -180 mapped to 180.
inline double wrap180(double deg) {
  double r = std::fmod(deg + 180.0, 360.0);
  if (r < 0) r += 360.0;
  r -= 180.0;
  return r == -180.0 ? 180.0 : r;
}

inline Vec3 sumo_to_unreal_cm(double x_m, double y_m, double z_m, const Vec3& origin_m = {0, 0, 0}) {
  return {(x_m - origin_m[0]) * kCmPerM, -(y_m - origin_m[1]) * kCmPerM, (z_m - origin_m[2]) * kCmPerM};
}

inline double sumo_heading_to_unreal_yaw(double heading_deg) { return wrap180(heading_deg - 90.0); }

inline double sumo_slope_to_unreal_pitch(double slope_deg) { return slope_deg; }

// Velocity along the heading in Unreal cm/s, from a speed in cm/s and Unreal yaw/pitch (degrees).
inline Vec3 velocity_cms(double speed_cms, double yaw_deg, double pitch_deg) {
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  const double yaw = yaw_deg * kRad, pitch = pitch_deg * kRad;
  return {speed_cms * std::cos(yaw) * std::cos(pitch), speed_cms * std::sin(yaw) * std::cos(pitch),
          speed_cms * std::sin(pitch)};
}

}  // namespace units
}  // namespace cosim
