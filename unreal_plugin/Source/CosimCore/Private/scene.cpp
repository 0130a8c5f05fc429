#include "cosim/scene.h"

#include <cstdio>
#include <variant>

namespace cosim {

std::vector<std::string> SceneState::topics() const {
  std::vector<std::string> out{std::string(options_.area ? topic::kAreaVehicles : topic::kVehicles),
                               std::string(options_.area ? topic::kAreaIds : topic::kVehicleIds),
                               std::string(topic::kTrafficLights), std::string(topic::kResiduals),
                               std::string(topic::kAsset)};
  if (!options_.pose_device.empty()) out.emplace_back(topic::kPose);
  return out;
}

void SceneState::set_garment_asset(std::string asset) {
  if (asset == options_.garment_asset) return;
  options_.garment_asset = std::move(asset);
  asset_.reset();
  pending_.reset();
  wants_asset_ = !options_.garment_asset.empty();
  applied_frame_ = -1;
}

Outcome SceneState::on_data(const Decoded& msg, int64_t recv_ns) {
  Outcome done = Outcome::ok();
  if (std::holds_alternative<VehicleIds>(msg.msg)) {
    ++stats_.id_tables;
    done = vehicles_.apply_ids(msg);
  } else if (std::holds_alternative<Vehicles>(msg.msg)) {
    ++stats_.vehicle_tables;
    done = vehicles_.apply_table(msg);
  } else if (std::holds_alternative<TrafficLights>(msg.msg)) {
    ++stats_.light_tables;
    done = lights_.apply(msg);
  } else if (const auto* pose = std::get_if<Pose>(&msg.msg)) {
    if (pose->device == options_.pose_device && (!pose_ || pose->sample_ns >= pose_->sample_ns)) {
      ++stats_.poses;
      pose_ = PoseSample{pose->sample_ns, pose->t_ns, recv_ns, pose->position, pose->orientation};
    }
  } else if (std::holds_alternative<Asset>(msg.msg)) {
    auto info = parse_asset(msg);
    if (!info) {
      done = Outcome::fail(info.error());
    } else if (info.value().asset == options_.garment_asset) {
      ++stats_.assets;
      asset_ = info.take();
    }
  } else if (std::holds_alternative<Residuals>(msg.msg)) {
    auto frame = parse_residuals(msg);
    if (!frame) {
      done = Outcome::fail(frame.error());
    } else if (frame.value().asset == options_.garment_asset) {
      ++stats_.residual_frames;
      pending_ = frame.take();
      wants_asset_ = !asset_;  // joined after the refiner announced it: requests() asks
    }
  }
  if (!done) ++stats_.errors;
  return done;
}

void SceneState::on_session(const Decoded& msg) {
  const auto* status = std::get_if<Status>(&msg.msg);
  if (status == nullptr) return;
  for (const ClientStatus& c : status->clients)
    if (c.name == options_.client_name) own_status_ = c;
}

std::string SceneState::hud_line(int64_t frame, bool clock_known) const {
  char offset[32] = "?";
  if (own_status_ && own_status_->offset_us) std::snprintf(offset, sizeof offset, "%.1f us", *own_status_->offset_us);
  return std::string(clock_known ? "cosim: joined" : "cosim: joining") + " | frame " + std::to_string(frame) +
         " | behind " + (own_status_ ? std::to_string(own_status_->frames_behind) : std::string("?")) +
         " | offset " + offset + " | vehicles " + std::to_string(vehicles_.size()) + " | lights " +
         std::to_string(lights_.version()) + " | residual frame " + std::to_string(applied_frame_) + " | errors " +
         std::to_string(stats_.errors);
}

bool SceneState::due(int64_t& last, int64_t now_ns) const {
  if (last != INT64_MIN && now_ns - last < options_.request_every_ns) return false;
  last = now_ns;
  return true;
}

std::vector<std::string> SceneState::requests(int64_t now_ns) {
  std::vector<std::string> out;
  if (vehicles_.needs_ids() && due(last_ids_, now_ns))
    out.emplace_back(options_.area ? topic::kAreaIds : topic::kVehicleIds);
  if (lights_.needs(vehicles_.lights_version()) && due(last_lights_, now_ns)) out.emplace_back(topic::kTrafficLights);
  if (wants_asset_ && !asset_ && due(last_asset_, now_ns)) out.emplace_back(topic::kAsset);
  stats_.requests += static_cast<int64_t>(out.size());
  return out;
}

VehicleChanges SceneState::take_changes() {
  VehicleChanges changes = vehicles_.take_changes();
  stats_.spawned += static_cast<int64_t>(changes.spawned.size());
  stats_.despawned += static_cast<int64_t>(changes.despawned.size());
  return changes;
}

Result<bool> SceneState::apply_garment(const float* base, size_t n, float scale, float* out) {
  if (!pending_) return false;
  if (!asset_) {  // not applicable until the asset is known (requests() asks for it)
    pending_.reset();
    return false;
  }
  const ResidualFrame frame = std::move(*pending_);
  pending_.reset();
  Outcome fits = check_mesh(*asset_, n);
  if (fits) fits = apply_residuals(frame, base, n, scale, out);
  if (!fits) {
    ++stats_.residuals_refused;
    return Result<bool>(fits);
  }
  ++stats_.residuals_applied;
  applied_frame_ = frame.frame;
  return true;
}

}  // namespace cosim
