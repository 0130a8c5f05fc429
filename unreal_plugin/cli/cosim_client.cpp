// cosim_client: the C++ core joining a live session the way the headless Python client does
// (client/__main__.py): HELLO/WELCOME, clock-probe burst, READY, an ACK with recv/present/photon
// for every tick (present and photon from the same vsync-grid display model), HEARTBEATs with the
// clock-offset error when the truth is known, BYE at the end. Prints one JSON summary line.
//
// With --bus-out it also takes the scene the way the Unreal glue does (cosim::SceneState: vehicles,
// traffic lights, the refiner's asset and residuals applied to its rest shape, the HMD pose whose
// sample time goes into each FRAME_REPORT) and asks for what it misses (--bus-in).
//
//   cosim_client --control tcp://127.0.0.1:P --ticks tcp://127.0.0.1:Q --name cpp [--required]
//                [--bus-in tcp://...] [--bus-out tcp://...] [--asset skirt] [--area]
//                [--report-frames] [--refresh-hz 90] [--vsync-phase-ms 3]
//                [--vsync-to-photon-ms 11.1] [--render-ms 1] [--clock-skew-ns 0]
//                [--connect-timeout-s 30] [--summary FILE] [--curve-secrets DIR [--curve-client NAME]]
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cosim/core.h"

namespace {

volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }

struct Args {
  cosim::Endpoints endpoints;
  cosim::LinkOptions link;
  bool report_frames = false;
  cosim::SceneOptions scene;
  double refresh_hz = 90.0, vsync_phase_ms = 3.0, vsync_to_photon_ms = 11.1, render_ms = 1.0;
  double connect_timeout_s = 30.0;
  std::string summary;
  std::string curve_secrets, curve_client = "client";
};

bool parse_number(const char* flag, const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  if (end == text || *end != '\0') {
    std::fprintf(stderr, "cosim_client: %s expects a number (got '%s')\n", flag, text);
    return false;
  }
  return true;
}

bool parse_args(int argc, char** argv, Args& a) {
  a.link.name = "cpp_client";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--required") { a.link.required = true; continue; }
    if (flag == "--report-frames") { a.report_frames = true; a.link.publish = true; continue; }
    if (flag == "--area") { a.scene.area = true; continue; }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "cosim_client: %s needs a value\n", flag.c_str());
      return false;
    }
    const char* v = argv[++i];
    double num = 0;
    if (flag == "--control") a.endpoints.control = v;
    else if (flag == "--ticks") a.endpoints.ticks = v;
    else if (flag == "--bus-in") a.endpoints.bus_in = v;
    else if (flag == "--bus-out") a.endpoints.bus_out = v;
    else if (flag == "--name") a.link.name = v;
    else if (flag == "--asset") a.scene.garment_asset = v;
    else if (flag == "--summary") a.summary = v;
    else if (flag == "--curve-secrets") a.curve_secrets = v;
    else if (flag == "--curve-client") a.curve_client = v;
    else if (flag == "--refresh-hz") { if (!parse_number(argv[i - 1], v, a.refresh_hz)) return false; }
    else if (flag == "--vsync-phase-ms") { if (!parse_number(argv[i - 1], v, a.vsync_phase_ms)) return false; }
    else if (flag == "--vsync-to-photon-ms") { if (!parse_number(argv[i - 1], v, a.vsync_to_photon_ms)) return false; }
    else if (flag == "--render-ms") { if (!parse_number(argv[i - 1], v, a.render_ms)) return false; }
    else if (flag == "--connect-timeout-s") { if (!parse_number(argv[i - 1], v, a.connect_timeout_s)) return false; }
    else if (flag == "--clock-skew-ns") {
      if (!parse_number(argv[i - 1], v, num)) return false;
      a.link.clock_skew_ns = static_cast<int64_t>(num);
    } else {
      std::fprintf(stderr, "cosim_client: unknown option %s\n", flag.c_str());
      return false;
    }
  }
  if (a.endpoints.control.empty() || a.endpoints.ticks.empty()) {
    std::fprintf(stderr, "cosim_client: --control and --ticks are required\n");
    return false;
  }
  if (a.report_frames && a.endpoints.bus_in.empty()) {
    std::fprintf(stderr, "cosim_client: --report-frames needs --bus-in\n");
    return false;
  }
  a.scene.client_name = a.link.name;
  if (!a.endpoints.bus_out.empty()) {
    a.link.data_topics = cosim::SceneState(a.scene).topics();
    a.link.publish = a.link.publish || !a.endpoints.bus_in.empty();  // REQUESTs for what it misses
  }
  if (!(a.refresh_hz > 0 && a.refresh_hz <= 1000)) {
    std::fprintf(stderr, "cosim_client: --refresh-hz must be in (0, 1000] (got %g)\n", a.refresh_hz);
    return false;
  }
  return true;
}

int64_t ms_to_ns(double ms) { return static_cast<int64_t>(ms * 1e6 + (ms >= 0 ? 0.5 : -0.5)); }

class Client {
 public:
  Client(const Args& args, cosim::Link& link)
      : args_(args), link_(link),
        display_(static_cast<int64_t>(1e9 / args.refresh_hz + 0.5), ms_to_ns(args.vsync_phase_ms),
                 ms_to_ns(args.vsync_to_photon_ms)),
        render_ns_(ms_to_ns(args.render_ms)), scene_(args.scene) {}

  // HELLO -> WELCOME -> first probe burst -> (a broadcast arrived) READY. False with a message on failure.
  bool join(std::string& error) {
    const int64_t deadline = cosim::mono_now_ns() + static_cast<int64_t>(args_.connect_timeout_s * 1e9);
    cosim::Outcome sent = link_.hello();
    if (!sent) return fail(error, "HELLO: " + sent.error());
    while (!link_.first_burst_done() || !link_.saw_broadcast()) {
      if (g_signal) return fail(error, "stopped by a signal before the session started");
      if (cosim::mono_now_ns() > deadline)
        return fail(error, link_.welcomed() ? "no session broadcast within the connect timeout"
                                            : "no WELCOME from the syncserver at " + args_.endpoints.control);
      if (!poll(100)) return fail(error, last_error_);
    }
    sent = link_.ready();
    if (!sent) return fail(error, "READY: " + sent.error());
    ready_ = true;
    return true;
  }

  void run() {
    while (!g_signal && !link_.ended()) {
      if (!poll(100)) {
        std::fprintf(stderr, "cosim_client: %s\n", last_error_.c_str());
        end_reason_ = "error";
        return;
      }
    }
    end_reason_ = g_signal ? "signal" : end_reason_;
  }

  std::string summary_json() const {
    const auto& s = link_.stats();
    const auto& est = link_.offset();
    std::vector<int64_t> abs_errors;
    for (int64_t e : s.offset_errors_ns) abs_errors.push_back(e < 0 ? -e : e);
    return std::string("{\"name\": \"") + args_.link.name + "\", \"end_reason\": \"" + end_reason_ +
           "\", \"ticks\": " + std::to_string(s.ticks) + ", \"acks\": " + std::to_string(acks_) +
           ", \"gaps\": " + std::to_string(s.gaps) + ", \"decode_errors\": " + std::to_string(s.decode_errors) +
           ", \"server_errors\": " + std::to_string(s.server_errors) +
           ", \"offset_ns\": " + (est.offset_ns() ? std::to_string(*est.offset_ns()) : "null") +
           ", \"rtt_ns\": " + (est.rtt_ns() ? std::to_string(*est.rtt_ns()) : "null") +
           ", \"probe_bursts\": " + std::to_string(est.bursts()) +
           ", \"clock_offset_error_us\": " + cosim::to_json(cosim::percentiles(abs_errors, 1e-3)) +
           ", \"missed_vsyncs\": " + std::to_string(display_.missed_vsyncs()) +
           ", \"replaced_frames\": " + std::to_string(display_.replaced()) + ", \"mtp\": " + mtp_.summary_json() +
           ", \"scene\": " + scene_json() + ", \"hud\": \"" + scene_.hud_line(last_frame_, link_.welcomed()) + "\"}";
  }

  std::string scene_json() const {
    const cosim::SceneStats& s = scene_.stats();
    auto n = [](int64_t v) { return std::to_string(v); };
    return "{\"vehicle_tables\": " + n(s.vehicle_tables) + ", \"id_tables\": " + n(s.id_tables) +
           ", \"light_tables\": " + n(s.light_tables) + ", \"spawned\": " + n(s.spawned) +
           ", \"despawned\": " + n(s.despawned) + ", \"live_max\": " + n(live_max_) +
           ", \"evaluated\": " + n(evaluated_) + ", \"poses\": " + n(s.poses) + ", \"assets\": " + n(s.assets) +
           ", \"garment_vertices\": " + n(static_cast<int64_t>(garment_.size() / 3)) +
           ", \"residual_frames\": " + n(s.residual_frames) + ", \"residuals_applied\": " + n(s.residuals_applied) +
           ", \"residuals_refused\": " + n(s.residuals_refused) + ", \"requests\": " + n(s.requests) +
           ", \"errors\": " + n(s.errors) + "}";
  }

 private:
  static bool fail(std::string& error, std::string text) {
    error = std::move(text);
    return false;
  }

  bool poll(int timeout_ms) {
    inbox_.clear();
    cosim::Outcome r = link_.poll(timeout_ms, inbox_);
    if (!r) {
      last_error_ = r.error();
      return false;
    }
    for (const auto& in : inbox_) {
      if (in.kind == cosim::Inbound::Kind::kTick) on_tick(std::get<cosim::Tick>(in.msg.msg), in.recv_ns);
      else if (in.kind == cosim::Inbound::Kind::kEnd) end_reason_ = std::get<cosim::End>(in.msg.msg).reason;
      else if (in.kind == cosim::Inbound::Kind::kSession) scene_.on_session(in.msg);
      else if (in.kind == cosim::Inbound::Kind::kData) {
        const cosim::Outcome taken = scene_.on_data(in.msg, in.recv_ns);
        if (!taken && scene_.stats().errors <= 5) std::fprintf(stderr, "cosim_client: %s\n", taken.error().c_str());
      }
    }
    return true;
  }

  void on_tick(const cosim::Tick& tick, int64_t recv_ns) {
    if (!ready_) return;  // ticks before our READY (a late joiner) need no ACK
    last_frame_ = tick.frame;
    const int64_t render_start = link_.session_now_ns();
    const cosim::Presented shown = display_.present(render_start + render_ns_);
    cosim::Outcome sent = link_.ack(tick, recv_ns, shown.present_ns, shown.photon_ns);
    if (sent) ++acks_;
    else std::fprintf(stderr, "cosim_client: ACK %lld: %s\n", static_cast<long long>(tick.frame), sent.error().c_str());
    cosim::FrameTimes f;
    f.frame = tick.frame;
    f.tick_ns = tick.t_ns;
    f.recv_ns = recv_ns;
    f.present_ns = shown.present_ns;
    f.photon_ns = shown.photon_ns;
    if (const auto& pose = scene_.pose()) {
      f.pose_sample_ns = pose->sample_ns;
      f.pose_bus_ns = pose->bus_ns;
      f.pose_recv_ns = pose->recv_ns;
    }
    mtp_.record(f);
    if (args_.report_frames) link_.publish(cosim::topic::kFrames, cosim::frame_report(f));
    if (!args_.endpoints.bus_out.empty()) render_scene(tick.t_ns, render_start);
  }

  // What the glue does per frame, with the engine calls left out: spawn/despawn, every vehicle's
  // pose at the frame's time (its body centre), the garment, and REQUESTs for what is missing.
  void render_scene(int64_t t_ns, int64_t now_ns) {
    const cosim::VehicleChanges changes = scene_.take_changes();
    for (uint32_t h : changes.spawned) live_.push_back(h);
    for (uint32_t h : changes.despawned) live_.erase(std::remove(live_.begin(), live_.end(), h), live_.end());
    live_max_ = std::max<int64_t>(live_max_, static_cast<int64_t>(live_.size()));
    for (uint32_t h : live_) {
      if (const auto s = scene_.vehicles().evaluate(h, t_ns)) {
        const cosim::Vec3 c = cosim::body_centre_cm(*s, scene_.vehicles().info(h));
        evaluated_ += std::isfinite(c[0]) && std::isfinite(c[1]) && std::isfinite(c[2]);
      }
    }
    if (const auto& asset = scene_.asset(); asset && garment_.size() != asset->rest.size()) garment_.assign(asset->rest.size(), 0.0f);
    if (!garment_.empty()) {
      const auto applied = scene_.apply_garment(scene_.asset()->rest.data(), garment_.size() / 3, 1.0f, garment_.data());
      if (!applied) std::fprintf(stderr, "cosim_client: garment: %s\n", applied.error().c_str());
    } else {
      (void)scene_.apply_garment(nullptr, 0, 1.0f, nullptr);  // no asset yet: asks for it
    }
    if (!args_.endpoints.bus_in.empty()) {
      for (const std::string& what : scene_.requests(now_ns)) {
        cosim::Request ask;
        ask.what = what;
        link_.publish(cosim::topic::kRequest, ask);
      }
    }
  }

  const Args& args_;
  cosim::Link& link_;
  cosim::DisplayModel display_;
  int64_t render_ns_;
  cosim::MtpTracker mtp_;
  cosim::SceneState scene_;
  std::vector<uint32_t> live_;
  std::vector<float> garment_;
  int64_t live_max_ = 0, evaluated_ = 0, last_frame_ = -1;
  std::vector<cosim::Inbound> inbox_;
  int64_t acks_ = 0;
  bool ready_ = false;
  std::string end_reason_ = "ended";
  std::string last_error_;
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, args)) return 2;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (!args.curve_secrets.empty()) {
    auto keys = cosim::load_curve_keys(args.curve_secrets, args.curve_client);
    if (!keys) {
      std::fprintf(stderr, "cosim_client: %s\n", keys.error().c_str());
      return 2;
    }
    args.link.curve = keys.take();
  }
  auto opened = cosim::Link::open(args.endpoints, args.link);
  if (!opened) {
    std::fprintf(stderr, "cosim_client: %s\n", opened.error().c_str());
    return 1;
  }
  std::unique_ptr<cosim::Link> link = opened.take();
  Client client(args, *link);
  std::string error;
  int rc = 0;
  if (client.join(error)) {
    client.run();
  } else {
    std::fprintf(stderr, "cosim_client: %s\n", error.c_str());
    rc = 1;
  }
  link->bye(rc == 0 ? "done" : "error");
  const std::string summary = client.summary_json();
  if (!args.summary.empty()) {
    std::FILE* f = std::fopen(args.summary.c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "cosim_client: cannot write summary to '%s'\n", args.summary.c_str());
      rc = rc ? rc : 1;
    } else {
      std::fprintf(f, "%s\n", summary.c_str());
      std::fclose(f);
    }
  }
  std::printf("%s\n", summary.c_str());
  return rc;
}
