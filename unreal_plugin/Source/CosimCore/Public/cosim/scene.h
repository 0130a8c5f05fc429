// Everything a renderer keeps from the bus, engine-neutral: the vehicle scene and traffic lights,
// the refiner's asset and its newest residual frame, the newest pose of the rendered device, and
// the REQUESTs to send when something is missing (a late joiner's id table, lights, asset), at most
// one per kind a second. The Unreal glue and the CLI client both drive it, so everything but the
// engine calls runs in CI (docs/unreal_plugin.md).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cosim/export.h"
#include "cosim/protocol.h"
#include "cosim/residuals.h"
#include "cosim/result.h"
#include "cosim/vehicles.h"

namespace cosim {

struct SceneOptions {
  bool area = false;                 // draw the area of interest (area.vehicles/area.ids), not the whole table
  std::string garment_asset;         // the asset whose residuals are applied ("" = none)
  std::string pose_device = "hmd";   // the device whose bus pose renders the view ("": the renderer reads its own)
  int64_t request_every_ns = 1'000'000'000;
  std::string client_name;           // this client's name: its line of the syncserver's STATUS
};

struct PoseSample {
  int64_t sample_ns = 0;  // the device sampled it (session time)
  int64_t bus_ns = 0;     // published on the bus (its header t_ns)
  int64_t recv_ns = 0;    // this client received it
  Vec3 position{};
  Quat orientation{1.0, 0.0, 0.0, 0.0};
};

struct SceneStats {
  int64_t vehicle_tables = 0, id_tables = 0, light_tables = 0, assets = 0, residual_frames = 0, poses = 0;
  int64_t residuals_applied = 0, residuals_refused = 0, requests = 0, errors = 0;
  int64_t spawned = 0, despawned = 0;
};

class COSIMCORE_API SceneState {
 public:
  explicit SceneState(SceneOptions options) : options_(std::move(options)) {}

  // The bus topics to subscribe to (the area's or the whole table's, lights, the refiner's, and the
  // pose unless pose_device is empty).
  std::vector<std::string> topics() const;
  // One bus message of those topics; an error names the problem (the caller logs it), and what
  // was held stays as it was.
  Outcome on_data(const Decoded& msg, int64_t recv_ns);
  // A broadcast (START, STATUS, ...): keeps this client's line of STATUS (frames behind, offset).
  void on_session(const Decoded& msg);
  // One line for a debug HUD: connection, frame, frames behind, offset, scene counts.
  std::string hud_line(int64_t frame, bool clock_known) const;
  // What to ask for now (REQUEST.what values), each kind at most once per request_every_ns.
  std::vector<std::string> requests(int64_t now_ns);
  // Spawned / despawned vehicles since the last call (counted in stats()).
  VehicleChanges take_changes();
  // (id, state) of the traffic lights that changed since the last call (all of them the first time).
  std::vector<std::pair<std::string, std::string>> take_light_changes() { return lights_.take_changes(); }
  // The asset whose residuals apply (a renderer registers its garment mesh after connecting).
  void set_garment_asset(std::string asset);
  // The RESIDUALS frame last applied by apply_garment (-1: none yet).
  int64_t applied_frame() const { return applied_frame_; }
  // The newest residual frame for the garment applied to `base` (n vertices) into `out`: true when a
  // new frame was applied, false when there was none or the asset is not known yet (requests()
  // then asks for it); an error when the frame does not fit the mesh.
  Result<bool> apply_garment(const float* base, size_t n, float scale, float* out);

  const VehicleScene& vehicles() const { return vehicles_; }
  const TrafficLightStates& lights() const { return lights_; }
  const std::optional<PoseSample>& pose() const { return pose_; }
  const std::optional<AssetInfo>& asset() const { return asset_; }
  const SceneStats& stats() const { return stats_; }
  const std::optional<ClientStatus>& own_status() const { return own_status_; }

 private:
  bool due(int64_t& last, int64_t now_ns) const;
  SceneOptions options_;
  VehicleScene vehicles_;
  TrafficLightStates lights_;
  std::optional<AssetInfo> asset_;
  std::optional<ResidualFrame> pending_;
  std::optional<PoseSample> pose_;
  bool wants_asset_ = false;
  int64_t applied_frame_ = -1;
  std::optional<ClientStatus> own_status_;
  int64_t last_ids_ = INT64_MIN, last_lights_ = INT64_MIN, last_asset_ = INT64_MIN;
  SceneStats stats_;
};

}  // namespace cosim
