// Motion-to-photon bookkeeping (docs/architecture.md, "Measurements"): per displayed frame the pose sample time, the
// times the pose reached the bus and the client, present and photon; the summary is percentiles
// computed like numpy.percentile (linear), reported as {p50, p95, p99, max} in microseconds.
// Also the headless display model (client/display.py): a vsync grid plus a vsync-to-photon delay.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cosim/export.h"
#include "cosim/protocol.h"

namespace cosim {

struct Percentiles {
  size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
};
COSIMCORE_API Percentiles percentiles(std::vector<int64_t> values, double scale = 1.0);
COSIMCORE_API std::string to_json(const Percentiles& p);  // {"p50": .., ...} or all null when empty

// Session times (ns) of one displayed frame; unknown stages stay empty.
struct FrameTimes {
  int64_t frame = 0;
  int64_t tick_ns = 0;   // the tick's scheduled session time
  int64_t recv_ns = 0;   // client received the tick
  int64_t present_ns = 0;
  int64_t photon_ns = 0;
  std::optional<int64_t> pose_sample_ns;  // pose the frame used: sampled ...
  std::optional<int64_t> pose_bus_ns;     // ... published on the bus ...
  std::optional<int64_t> pose_recv_ns;    // ... received by the client
};

// The FRAME_REPORT for a displayed frame: the same times (pose_bus_ns/pose_recv_ns are not reported).
COSIMCORE_API FrameReport frame_report(const FrameTimes& f);

class COSIMCORE_API MtpTracker {
 public:
  void record(const FrameTimes& f);
  size_t frames() const { return frames_; }
  size_t frames_with_pose() const { return mtp_.size(); }
  // {"frames", "frames_with_pose", "tick_to_present_us", "tick_to_photon_us", "mtp_us",
  //  "pose_to_bus_us", "bus_to_client_us", "client_to_present_us", "present_to_photon_us"}
  std::string summary_json() const;

 private:
  size_t frames_ = 0;
  std::vector<int64_t> tick_present_, tick_photon_, mtp_, pose_bus_, bus_client_, client_present_, present_photon_;
};

struct Presented {
  int64_t present_ns;
  int64_t photon_ns;
  int64_t vsync_index;
};

class COSIMCORE_API DisplayModel {
 public:
  DisplayModel(int64_t period_ns, int64_t phase_ns, int64_t vsync_to_photon_ns)
      : period_(period_ns > 0 ? period_ns : 1), phase_(phase_ns), photon_(vsync_to_photon_ns) {}
  int64_t vsync_at_or_after(int64_t t_ns) const;
  Presented present(int64_t ready_ns);
  int64_t missed_vsyncs() const { return missed_; }
  int64_t replaced() const { return replaced_; }

 private:
  int64_t period_, phase_, photon_;
  std::optional<int64_t> last_vsync_;
  int64_t missed_ = 0, replaced_ = 0;
};

}  // namespace cosim
