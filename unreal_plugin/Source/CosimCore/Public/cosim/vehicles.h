// Vehicle tables from the bus (VEHICLES + VEHICLE_IDS) -> latest state per vehicle, spawn/despawn
// lists, and smooth poses at render time: cubic Hermite in position between the last two tables
// (tangents = velocity from speed, yaw, pitch), shortest-arc yaw/pitch, linear speed; past the
// newest table a short straight-line extrapolation, then hold. Times are int64 ns of session time.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cosim/export.h"
#include "cosim/protocol.h"
#include "cosim/result.h"

namespace cosim {

struct VehicleState {
  uint32_t handle = 0;
  Vec3 position_cm{};
  double yaw_deg = 0;
  double pitch_deg = 0;
  double speed_cms = 0;
  uint16_t signals = 0;  // SUMO's bits: 1 right blinker, 2 left, 4 emergency blinkers, 8 brake light, ...
};

// Columns of a VEHICLES message: handle <u4 (n), position_cm <f4 (n,3), yaw_deg <f4 (n),
// speed_cms <f4 (n), optional pitch_deg <f4 (n) and signals <u2 (n). A column of the wrong dtype or
// shape is an error naming it.
COSIMCORE_API Result<std::vector<VehicleState>> parse_vehicle_table(const Decoded& msg);

struct VehicleInfo {
  std::string id;
  std::string type;
  std::string vclass;                    // "passenger", "bus", "pedestrian" (a person), "" unknown
  std::array<float, 3> size_cm{};        // length, width, height; 0 unknown
  std::array<uint8_t, 4> color{};        // RGBA; alpha 0: none given
};

// The wire's position is SUMO's front-bumper point; the centre of the body is half its length
// behind it along its heading (and pitch). Without a known length, the bumper point itself.
COSIMCORE_API Vec3 body_centre_cm(const VehicleState& s, const VehicleInfo* info);

struct VehicleChanges {
  std::vector<uint32_t> spawned;    // now known (state and type), not reported before
  std::vector<uint32_t> despawned;  // reported before, gone from the newest table
};

class COSIMCORE_API VehicleScene {
 public:
  explicit VehicleScene(int64_t max_extrapolation_ns = 100'000'000) : max_extrap_ns_(max_extrapolation_ns) {}

  // A VEHICLE_IDS message (its table is its arrays, read with parse_vehicle_ids). On an error the
  // id map held so far stays as it was.
  Outcome apply_ids(const Decoded& ids_msg);
  // A new table stamped with its frame's session time `t_ns` (older or equal stamps are ignored).
  Outcome apply_table(const Decoded& vehicles_msg);
  // The ids_version of the newest table differs from the id map we hold: ask for sumo.ids.
  bool needs_ids() const { return table_ids_version_ && *table_ids_version_ != ids_version_; }
  // The TRAFFIC_LIGHTS version the newest table says is in force (0: none).
  int64_t lights_version() const { return table_lights_version_; }

  VehicleChanges take_changes();
  std::optional<VehicleState> evaluate(uint32_t handle, int64_t t_ns) const;
  const VehicleInfo* info(uint32_t handle) const;
  size_t size() const { return tracks_.size(); }

 private:
  struct Track {
    int64_t t_a = 0, t_b = 0;
    VehicleState a, b;
    bool has_a = false;
  };
  int64_t max_extrap_ns_;
  int64_t latest_t_ns_ = INT64_MIN;
  int64_t ids_version_ = -1;
  std::optional<int64_t> table_ids_version_;
  int64_t table_lights_version_ = 0;
  std::map<uint32_t, Track> tracks_;
  std::map<uint32_t, VehicleInfo> infos_;
  std::map<uint32_t, bool> reported_;  // handle -> spawned reported
  std::vector<uint32_t> despawned_;
};

// The traffic lights (TRAFFIC_LIGHTS): every light's state, and which changed since the last look.
class COSIMCORE_API TrafficLightStates {
 public:
  // A TRAFFIC_LIGHTS message; one older than the version held is ignored. On an error nothing changes.
  Outcome apply(const Decoded& msg);
  // The newest VEHICLES names `version` but we hold another: ask for sumo.tls.
  bool needs(int64_t version) const { return version != 0 && version != version_; }
  const std::string* state(const std::string& id) const;
  // (id, state) of the lights whose state changed since the last call (all of them the first time).
  std::vector<std::pair<std::string, std::string>> take_changes();
  int64_t version() const { return version_; }

 private:
  int64_t version_ = 0;
  std::map<std::string, std::string> states_;
  std::map<std::string, std::string> reported_;
};

// Cubic Hermite between two states `span_ns` apart at fraction u in [0, 1] (exposed for tests).
COSIMCORE_API VehicleState hermite(const VehicleState& a, const VehicleState& b, int64_t span_ns, double u);

}  // namespace cosim
