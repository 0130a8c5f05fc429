#include "cosim/mtp.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cosim/time.h"

namespace cosim {

Percentiles percentiles(std::vector<int64_t> values, double scale) {
  Percentiles p;
  p.count = values.size();
  if (values.empty()) return p;
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
    const auto lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, values.size() - 1);
    const double frac = pos - static_cast<double>(lo);
    const double a = static_cast<double>(values[lo]) * scale, b = static_cast<double>(values[hi]) * scale;
    return a + (b - a) * frac;
  };
  p.p50 = at(50);
  p.p95 = at(95);
  p.p99 = at(99);
  p.max = static_cast<double>(values.back()) * scale;
  return p;
}

std::string to_json(const Percentiles& p) {
  if (p.count == 0) return R"({"p50": null, "p95": null, "p99": null, "max": null})";
  char buf[160];
  std::snprintf(buf, sizeof buf, R"({"p50": %.3f, "p95": %.3f, "p99": %.3f, "max": %.3f})", p.p50, p.p95, p.p99,
                p.max);
  return buf;
}

FrameReport frame_report(const FrameTimes& f) {
  FrameReport r;
  r.frame = f.frame;
  r.t_ns = f.tick_ns;
  r.recv_ns = f.recv_ns;
  r.present_ns = f.present_ns;
  r.photon_ns = f.photon_ns;
  r.pose_sample_ns = f.pose_sample_ns;
  return r;
}

void MtpTracker::record(const FrameTimes& f) {
  ++frames_;
  tick_present_.push_back(f.present_ns - f.tick_ns);
  tick_photon_.push_back(f.photon_ns - f.tick_ns);
  present_photon_.push_back(f.photon_ns - f.present_ns);
  if (!f.pose_sample_ns) return;
  mtp_.push_back(f.photon_ns - *f.pose_sample_ns);
  if (f.pose_bus_ns) pose_bus_.push_back(*f.pose_bus_ns - *f.pose_sample_ns);
  if (f.pose_bus_ns && f.pose_recv_ns) bus_client_.push_back(*f.pose_recv_ns - *f.pose_bus_ns);
  if (f.pose_recv_ns) client_present_.push_back(f.present_ns - *f.pose_recv_ns);
}

std::string MtpTracker::summary_json() const {
  const auto us = [](const std::vector<int64_t>& v) { return to_json(percentiles(v, 1e-3)); };
  return "{\"frames\": " + std::to_string(frames_) + ", \"frames_with_pose\": " + std::to_string(mtp_.size()) +
         ", \"tick_to_present_us\": " + us(tick_present_) + ", \"tick_to_photon_us\": " + us(tick_photon_) +
         ", \"mtp_us\": " + us(mtp_) + ", \"pose_to_bus_us\": " + us(pose_bus_) +
         ", \"bus_to_client_us\": " + us(bus_client_) + ", \"client_to_present_us\": " + us(client_present_) +
         ", \"present_to_photon_us\": " + us(present_photon_) + "}";
}

int64_t DisplayModel::vsync_at_or_after(int64_t t_ns) const {
  const int64_t k = -floor_div(phase_ - t_ns, period_);  // ceil((t - phase) / period)
  return std::max<int64_t>(k, 0);
}

Presented DisplayModel::present(int64_t ready_ns) {
  const int64_t k = vsync_at_or_after(ready_ns);
  if (last_vsync_) {
    if (k <= *last_vsync_) ++replaced_;
    else missed_ += k - *last_vsync_ - 1;
  }
  last_vsync_ = std::max(k, last_vsync_.value_or(0));
  const int64_t present = phase_ + k * period_;
  return {present, present + photon_, k};
}

}  // namespace cosim
