#include "cosim/vehicles.h"

#include <cmath>
#include <cstring>

#include "cosim/units.h"

namespace cosim {

namespace {

Result<const Array*> column(const Decoded& msg, const char* name, const char* dtype, size_t n, size_t width,
                            bool required) {
  const Array* a = msg.find(name);
  if (a == nullptr) {
    if (required) return Result<const Array*>::fail(std::string("VEHICLES: missing column '") + name + "'");
    return static_cast<const Array*>(nullptr);
  }
  const bool shape_ok = width == 1 ? a->spec.shape.size() == 1 && a->spec.shape[0] == static_cast<int64_t>(n)
                                   : a->spec.shape.size() == 2 && a->spec.shape[0] == static_cast<int64_t>(n) &&
                                         a->spec.shape[1] == static_cast<int64_t>(width);
  if (a->spec.dtype != dtype || !shape_ok)
    return Result<const Array*>::fail(std::string("VEHICLES: column '") + name + "' must be " + dtype + " of " +
                                      std::to_string(n) + (width == 1 ? "" : "x" + std::to_string(width)) +
                                      " values");
  return a;
}

float f32_at(const Array* a, size_t i) {
  float f;
  std::memcpy(&f, a->bytes.data() + 4 * i, 4);  // payload is little-endian; so are UE's targets
  return f;
}

}  // namespace

Result<std::vector<VehicleState>> parse_vehicle_table(const Decoded& msg) {
  using R = Result<std::vector<VehicleState>>;
  if (!std::holds_alternative<Vehicles>(msg.msg)) return R::fail("not a VEHICLES message");
  const Array* handles = msg.find("handle");
  if (handles == nullptr) return R::fail("VEHICLES: missing column 'handle'");
  if (handles->spec.shape.size() != 1) return R::fail("VEHICLES: column 'handle' must be one-dimensional");
  const size_t n = static_cast<size_t>(handles->spec.shape[0]);
  auto h = column(msg, "handle", "<u4", n, 1, true);
  auto pos = column(msg, "position_cm", "<f4", n, 3, true);
  auto yaw = column(msg, "yaw_deg", "<f4", n, 1, true);
  auto speed = column(msg, "speed_cms", "<f4", n, 1, true);
  auto pitch = column(msg, "pitch_deg", "<f4", n, 1, false);
  auto signals = column(msg, "signals", "<u2", n, 1, false);
  for (const auto* c : {&h, &pos, &yaw, &speed, &pitch, &signals})
    if (!*c) return R::fail(c->error());
  std::vector<VehicleState> out(n);
  for (size_t i = 0; i < n; ++i) {
    VehicleState& s = out[i];
    std::memcpy(&s.handle, h.value()->bytes.data() + 4 * i, 4);
    for (size_t k = 0; k < 3; ++k) s.position_cm[k] = f32_at(pos.value(), 3 * i + k);
    s.yaw_deg = f32_at(yaw.value(), i);
    s.speed_cms = f32_at(speed.value(), i);
    s.pitch_deg = pitch.value() ? f32_at(pitch.value(), i) : 0.0;
    if (signals.value()) std::memcpy(&s.signals, signals.value()->bytes.data() + 2 * i, 2);
    const bool finite = std::isfinite(s.yaw_deg) && std::isfinite(s.speed_cms) && std::isfinite(s.pitch_deg) &&
                        std::isfinite(s.position_cm[0]) && std::isfinite(s.position_cm[1]) &&
                        std::isfinite(s.position_cm[2]);
    if (!finite) return R::fail("VEHICLES: row " + std::to_string(i) + " (handle " + std::to_string(s.handle) +
                                ") has a non-finite value");
  }
  return out;
}

VehicleState hermite(const VehicleState& a, const VehicleState& b, int64_t span_ns, double u) {
  u = u < 0 ? 0 : u > 1 ? 1 : u;
  const double span = static_cast<double>(span_ns) * 1e-9;
  const double u2 = u * u, u3 = u2 * u;
  const double h00 = 2 * u3 - 3 * u2 + 1, h10 = (u3 - 2 * u2 + u) * span;
  const double h01 = -2 * u3 + 3 * u2, h11 = (u3 - u2) * span;
  const Vec3 m0 = units::velocity_cms(a.speed_cms, a.yaw_deg, a.pitch_deg);
  const Vec3 m1 = units::velocity_cms(b.speed_cms, b.yaw_deg, b.pitch_deg);
  VehicleState out;
  out.handle = b.handle;
  for (int k = 0; k < 3; ++k)
    out.position_cm[k] = h00 * a.position_cm[k] + h10 * m0[k] + h01 * b.position_cm[k] + h11 * m1[k];
  out.yaw_deg = units::wrap180(a.yaw_deg + u * units::wrap180(b.yaw_deg - a.yaw_deg));
  out.pitch_deg = units::wrap180(a.pitch_deg + u * units::wrap180(b.pitch_deg - a.pitch_deg));
  out.speed_cms = a.speed_cms + u * (b.speed_cms - a.speed_cms);
  out.signals = u < 1 ? a.signals : b.signals;  // as SUMO reported them at the older table, until the newer
  return out;
}

Vec3 body_centre_cm(const VehicleState& s, const VehicleInfo* info) {
  Vec3 out = s.position_cm;
  if (info == nullptr || !(info->size_cm[0] > 0)) return out;
  const Vec3 forward = units::velocity_cms(1.0, s.yaw_deg, s.pitch_deg);
  for (int k = 0; k < 3; ++k) out[k] -= forward[k] * 0.5 * info->size_cm[0];
  return out;
}

Outcome VehicleScene::apply_ids(const Decoded& ids_msg) {
  auto parsed = parse_vehicle_ids(ids_msg);
  if (!parsed) return Outcome::fail(parsed.error());
  VehicleIdTable& table = parsed.value();
  infos_.clear();
  for (size_t i = 0; i < table.handles.size(); ++i)
    infos_[table.handles[i]] = VehicleInfo{std::move(table.ids[i]), std::move(table.types[i]),
                                           std::move(table.classes[i]), table.size_cm[i], table.color[i]};
  ids_version_ = table.ids_version;
  return Outcome::ok();
}

Outcome VehicleScene::apply_table(const Decoded& msg) {
  auto rows = parse_vehicle_table(msg);
  if (!rows) return Outcome::fail(rows.error());
  const auto& header = std::get<Vehicles>(msg.msg);
  if (header.t_ns <= latest_t_ns_) return Outcome::ok();  // stale or repeated table
  latest_t_ns_ = header.t_ns;
  table_ids_version_ = header.ids_version;
  table_lights_version_ = header.lights_version;
  std::map<uint32_t, Track> next;
  for (const auto& row : rows.value()) {
    Track t;
    auto old = tracks_.find(row.handle);
    if (old != tracks_.end()) {
      t.a = old->second.b;
      t.t_a = old->second.t_b;
      t.has_a = true;
    }
    t.b = row;
    t.t_b = header.t_ns;
    next[row.handle] = t;
  }
  for (const auto& kv : tracks_)
    if (next.find(kv.first) == next.end()) {
      auto r = reported_.find(kv.first);
      if (r != reported_.end()) {
        despawned_.push_back(kv.first);
        reported_.erase(r);
      }
    }
  tracks_.swap(next);
  return Outcome::ok();
}

VehicleChanges VehicleScene::take_changes() {
  VehicleChanges out;
  out.despawned.swap(despawned_);
  for (const auto& kv : tracks_)
    if (reported_.find(kv.first) == reported_.end() && infos_.count(kv.first)) {
      reported_[kv.first] = true;
      out.spawned.push_back(kv.first);
    }
  return out;
}

std::optional<VehicleState> VehicleScene::evaluate(uint32_t handle, int64_t t_ns) const {
  auto it = tracks_.find(handle);
  if (it == tracks_.end()) return std::nullopt;
  const Track& t = it->second;
  if (t.has_a && t_ns <= t.t_b && t.t_b > t.t_a)
    return hermite(t.a, t.b, t.t_b - t.t_a, static_cast<double>(t_ns - t.t_a) / static_cast<double>(t.t_b - t.t_a));
  VehicleState s = t.b;
  const int64_t ahead = std::min<int64_t>(std::max<int64_t>(t_ns - t.t_b, 0), max_extrap_ns_);
  const Vec3 v = units::velocity_cms(s.speed_cms, s.yaw_deg, s.pitch_deg);
  for (int k = 0; k < 3; ++k) s.position_cm[k] += v[k] * static_cast<double>(ahead) * 1e-9;
  return s;
}

Outcome TrafficLightStates::apply(const Decoded& msg) {
  auto parsed = parse_traffic_lights(msg);
  if (!parsed) return Outcome::fail(parsed.error());
  TrafficLightTable& table = parsed.value();
  if (table.lights_version < version_) return Outcome::ok();  // an older table, e.g. re-sent on request
  version_ = table.lights_version;
  states_.clear();
  for (size_t i = 0; i < table.ids.size(); ++i) states_[std::move(table.ids[i])] = std::move(table.states[i]);
  return Outcome::ok();
}

const std::string* TrafficLightStates::state(const std::string& id) const {
  auto it = states_.find(id);
  return it == states_.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, std::string>> TrafficLightStates::take_changes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : states_) {
    auto seen = reported_.find(kv.first);
    if (seen == reported_.end() || seen->second != kv.second) out.emplace_back(kv.first, kv.second);
  }
  reported_ = states_;
  return out;
}

const VehicleInfo* VehicleScene::info(uint32_t handle) const {
  auto it = infos_.find(handle);
  return it == infos_.end() ? nullptr : &it->second;
}

}  // namespace cosim
