// Decoded bus messages built in memory for the core's tests (the arrays checked as make_array makes them).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cosim/protocol.h"

namespace cosim_test {

template <class T>
cosim::Array arr(const char* name, const char* dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
  auto a = cosim::make_array(name, dtype, std::move(shape), v.data(), v.size() * sizeof(T));
  EXPECT_TRUE(a) << a.error();
  return a.take();
}

// A VEHICLES table: n handles with positions (n*3), yaw and speed.
inline cosim::Decoded table(int64_t t_ns, std::vector<uint32_t> handles, std::vector<float> pos, std::vector<float> yaw,
                            std::vector<float> speed, int64_t ids_version = 1, int64_t lights_version = 0) {
  cosim::Vehicles v;
  v.t_ns = t_ns;
  v.ids_version = ids_version;
  v.lights_version = lights_version;
  const auto n = static_cast<int64_t>(handles.size());
  return cosim::Decoded{"sumo.vehicles", v,
                        {arr("handle", "<u4", {n}, handles), arr("position_cm", "<f4", {n, 3}, pos),
                         arr("yaw_deg", "<f4", {n}, yaw), arr("speed_cms", "<f4", {n}, speed)}};
}

// A VEHICLE_IDS table naming handle h "veh<h>", a bus when h is odd.
inline cosim::Decoded ids(std::vector<uint32_t> handles, int64_t version = 1) {
  cosim::VehicleIds m;
  m.ids_version = version;
  std::vector<std::string> names, types;
  for (auto h : handles) {
    names.push_back("veh" + std::to_string(h));
    types.push_back(h % 2 ? "bus" : "passenger");
  }
  auto arrays = cosim::vehicle_ids_arrays(handles, names, types);
  EXPECT_TRUE(arrays) << arrays.error();
  return cosim::Decoded{"sumo.ids", m, arrays.take()};
}

// The refiner's ASSET "skirt": rest (n*3 floats) and faces.
inline cosim::Decoded asset_msg(std::vector<float> rest, std::vector<uint32_t> faces, int64_t n) {
  cosim::Asset m;
  m.asset = "skirt";
  m.vertices = n;
  m.base_fps = 30;
  m.base_frames = 120;
  m.base_sha256 = std::string(64, 'a');
  return cosim::Decoded{"refine.asset", m,
                        {arr("rest", "<f4", {static_cast<int64_t>(rest.size() / 3), 3}, rest),
                         arr("faces", "<u4", {static_cast<int64_t>(faces.size() / 3), 3}, faces)}};
}

}  // namespace cosim_test
