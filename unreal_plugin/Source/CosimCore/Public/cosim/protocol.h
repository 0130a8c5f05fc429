// The wire protocol of cosim/protocol.py in plain C++17 (docs/protocol.md).
//
// A message is a multipart [topic, header, *payload]. The header is a MessagePack map: "type"
// first, then v, frame, t_ns, src, then the type's own fields in declaration order (msgspec's
// layout; all fields are always written, None as nil, floats as float64, ints in their smallest
// encoding). Bulk arrays are raw little-endian payload frames described by the header's `arrays`;
// names (the vehicle id table) travel that way too, as fixed-width UTF-8 byte strings "|S<w>".
//
// Each message struct lists its fields once, in `each(self, visitor)`; the encoder, the strict
// decoder and the tests all walk that one list.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cosim/export.h"
#include "cosim/result.h"

namespace cosim {

constexpr int64_t kProtocolVersion = 5;
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxPayloadFrames = 16;
constexpr size_t kMaxMessageBytes = 64u * 1024u * 1024u;
constexpr size_t kMaxArrayDims = 4;
constexpr size_t kMaxControlBytes = kMaxHeaderBytes + 1024;
constexpr size_t kMaxStringBytes = 512;  // widest byte string dtype, "|S512"
constexpr size_t kNameLimit = 128;       // characters of a name (Lim::kName, VEHICLE_IDS names)
constexpr size_t kEndpointLimit = 256;   // characters of a DirectStream endpoint (Lim::kEndpoint)
constexpr size_t kMaxDirectStreams = 16; // entries of a `direct` list (HELLO, WELCOME, CLIENT)

namespace topic {
constexpr std::string_view kControl = "ctl";
constexpr std::string_view kTick = "tick";
constexpr std::string_view kSession = "session";
constexpr std::string_view kVehicles = "sumo.vehicles";
constexpr std::string_view kVehicleIds = "sumo.ids";
constexpr std::string_view kTrafficLights = "sumo.tls";
constexpr std::string_view kAreaVehicles = "area.vehicles";  // the area of interest's VEHICLES (docs/sumo.md)
constexpr std::string_view kAreaIds = "area.ids";            // and its VEHICLE_IDS
constexpr std::string_view kEvents = "events";
constexpr std::string_view kPose = "pose";
constexpr std::string_view kResiduals = "refine.residuals";
constexpr std::string_view kAsset = "refine.asset";
constexpr std::string_view kSh = "refine.sh";
constexpr std::string_view kOpenVR = "events.openvr";
constexpr std::string_view kAudio = "audio.onsets";
constexpr std::string_view kFrames = "client.frames";
constexpr std::string_view kRequest = "request";
}  // namespace topic

// Value constraints of a field (the Annotated[...] metadata in protocol.py).
// kEndpoint: at most kEndpointLimit characters, starting with tcp://, ipc:// or inproc://.
// kSha256: 64 lowercase hex digits. kRate: a float > 0 and <= 10000.
enum class Lim : uint8_t { kNone, kName, kText, kDtype, kU32, kFrame, kShapeDim, kMode, kClientEvent, kEndpoint,
                           kSha256, kRate, kShDegree };
constexpr int64_t kShMaxDegree = 48;  // SH_ASSET / SH_FRAME degree: 0 .. kShMaxDegree
constexpr bool kRequired = true;
constexpr bool kOptional = false;

using Scalar = std::variant<bool, int64_t, double, std::string>;
using ScalarMap = std::vector<std::pair<std::string, Scalar>>;  // insertion order, as msgspec writes it
using Vec3 = std::array<double, 3>;
using Quat = std::array<double, 4>;

struct ArraySpec {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  template <class S, class V>
  static void each(S& s, V& v) {
    v("name", s.name, Lim::kName, kRequired);
    v("dtype", s.dtype, Lim::kDtype, kRequired);
    v("shape", s.shape, Lim::kShapeDim, kRequired);
  }
};

struct ClientStatus {
  std::string name;
  bool ready = false;
  bool required = false;
  bool connected = false;
  int64_t frames_behind = 0;
  int64_t acks = 0;
  std::optional<double> offset_us;
  template <class S, class V>
  static void each(S& s, V& v) {
    v("name", s.name, Lim::kName, kRequired);
    v("ready", s.ready, Lim::kNone, kRequired);
    v("required", s.required, Lim::kNone, kRequired);
    v("connected", s.connected, Lim::kNone, kRequired);
    v("frames_behind", s.frames_behind, Lim::kNone, kRequired);
    v("acks", s.acks, Lim::kNone, kRequired);
    v("offset_us", s.offset_us, Lim::kNone, kRequired);
  }
};

// A bus topic that its producer also publishes on a PUB socket of its own: a subscriber of exactly
// `topic` on host `host` may connect to `endpoint` instead of taking it through the bus proxy
// (docs/protocol.md "Direct streams"). At most kMaxDirectStreams in a `direct` list.
struct DirectStream {
  std::string topic;
  std::string endpoint;
  std::string host;
  template <class S, class V>
  static void each(S& s, V& v) {
    v("topic", s.topic, Lim::kName, kRequired);
    v("endpoint", s.endpoint, Lim::kEndpoint, kRequired);
    v("host", s.host, Lim::kName, kRequired);
  }
};

// Fields every header carries (after "type").
struct Common {
  int64_t v = kProtocolVersion;
  int64_t frame = 0;
  int64_t t_ns = 0;
  std::string src;
};

#define COSIM_MESSAGE(Name, Tag) \
  struct Name : Common {         \
    static constexpr const char* kType = Tag;

// --- control, client -> server ---------------------------------------------------------------
COSIM_MESSAGE(Hello, "HELLO")
  std::string name;
  std::string role = "component";
  bool required = false;
  std::string host;
  int64_t pid = 0;
  std::vector<DirectStream> direct;  // the streams this producer offers
  template <class S, class V> static void each(S& s, V& v) {
    v("name", s.name, Lim::kName, kRequired);
    v("role", s.role, Lim::kName, kOptional);
    v("required", s.required, Lim::kNone, kOptional);
    v("host", s.host, Lim::kName, kOptional);
    v("pid", s.pid, Lim::kNone, kOptional);
    v("direct", s.direct, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(Ready, "READY")
  template <class S, class V> static void each(S&, V&) {}
};

COSIM_MESSAGE(Ack, "ACK")
  int64_t recv_ns = 0;
  int64_t done_ns = 0;
  std::optional<int64_t> present_ns;
  std::optional<int64_t> photon_ns;
  template <class S, class V> static void each(S& s, V& v) {
    v("recv_ns", s.recv_ns, Lim::kNone, kRequired);
    v("done_ns", s.done_ns, Lim::kNone, kRequired);
    v("present_ns", s.present_ns, Lim::kNone, kOptional);
    v("photon_ns", s.photon_ns, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(Probe, "PROBE")
  int64_t seq = 0;
  int64_t t0 = 0;
  template <class S, class V> static void each(S& s, V& v) {
    v("seq", s.seq, Lim::kU32, kRequired);
    v("t0", s.t0, Lim::kNone, kRequired);
  }
};

COSIM_MESSAGE(Heartbeat, "HEARTBEAT")
  std::optional<int64_t> offset_ns;
  std::optional<int64_t> rtt_ns;
  std::optional<int64_t> offset_error_ns;
  template <class S, class V> static void each(S& s, V& v) {
    v("offset_ns", s.offset_ns, Lim::kNone, kOptional);
    v("rtt_ns", s.rtt_ns, Lim::kNone, kOptional);
    v("offset_error_ns", s.offset_error_ns, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(Bye, "BYE")
  std::string reason;
  template <class S, class V> static void each(S& s, V& v) { v("reason", s.reason, Lim::kText, kOptional); }
};

// --- control, server -> client ---------------------------------------------------------------
COSIM_MESSAGE(Welcome, "WELCOME")
  std::string session_id;
  std::string host;
  std::string mode;
  double rate_hz = 0;
  double pace = 0;
  double duration_s = 0;
  std::optional<int64_t> epoch_ns;
  double heartbeat_interval_s = 0;
  double heartbeat_timeout_s = 0;
  double probe_interval_s = 0;
  int64_t probe_burst = 0;
  std::vector<DirectStream> direct;  // offered by the components connected now
  template <class S, class V> static void each(S& s, V& v) {
    v("session_id", s.session_id, Lim::kName, kRequired);
    v("host", s.host, Lim::kName, kRequired);
    v("mode", s.mode, Lim::kMode, kRequired);
    v("rate_hz", s.rate_hz, Lim::kNone, kRequired);
    v("pace", s.pace, Lim::kNone, kRequired);
    v("duration_s", s.duration_s, Lim::kNone, kRequired);
    v("epoch_ns", s.epoch_ns, Lim::kNone, kRequired);
    v("heartbeat_interval_s", s.heartbeat_interval_s, Lim::kNone, kRequired);
    v("heartbeat_timeout_s", s.heartbeat_timeout_s, Lim::kNone, kRequired);
    v("probe_interval_s", s.probe_interval_s, Lim::kNone, kRequired);
    v("probe_burst", s.probe_burst, Lim::kNone, kRequired);
    v("direct", s.direct, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(Reject, "REJECT")
  std::string reason;
  template <class S, class V> static void each(S& s, V& v) { v("reason", s.reason, Lim::kText, kRequired); }
};

COSIM_MESSAGE(ProbeReply, "PROBE_REPLY")
  int64_t seq = 0;
  int64_t t0 = 0;
  int64_t t1 = 0;
  int64_t t2 = 0;
  template <class S, class V> static void each(S& s, V& v) {
    v("seq", s.seq, Lim::kU32, kRequired);
    v("t0", s.t0, Lim::kNone, kRequired);
    v("t1", s.t1, Lim::kNone, kRequired);
    v("t2", s.t2, Lim::kNone, kRequired);
  }
};

COSIM_MESSAGE(Error, "ERROR")
  std::string reason;
  template <class S, class V> static void each(S& s, V& v) { v("reason", s.reason, Lim::kText, kRequired); }
};

// --- broadcast on the tick socket ------------------------------------------------------------
COSIM_MESSAGE(Tick, "TICK")
  int64_t sent_ns = 0;
  int64_t dt_ns = 0;
  int64_t epoch_ns = 0;
  template <class S, class V> static void each(S& s, V& v) {
    v("sent_ns", s.sent_ns, Lim::kNone, kRequired);
    v("dt_ns", s.dt_ns, Lim::kNone, kRequired);
    v("epoch_ns", s.epoch_ns, Lim::kNone, kRequired);
  }
};

COSIM_MESSAGE(Start, "START")
  std::string session_id;
  int64_t epoch_ns = 0;
  std::string mode;
  double rate_hz = 0;
  template <class S, class V> static void each(S& s, V& v) {
    v("session_id", s.session_id, Lim::kName, kRequired);
    v("epoch_ns", s.epoch_ns, Lim::kNone, kRequired);
    v("mode", s.mode, Lim::kMode, kRequired);
    v("rate_hz", s.rate_hz, Lim::kNone, kRequired);
  }
};

COSIM_MESSAGE(End, "END")
  std::string reason;
  int64_t frames = 0;
  template <class S, class V> static void each(S& s, V& v) {
    v("reason", s.reason, Lim::kText, kRequired);
    v("frames", s.frames, Lim::kFrame, kRequired);
  }
};

COSIM_MESSAGE(Status, "STATUS")
  bool started = false;
  int64_t frames = 0;
  double fps = 0;
  int64_t late = 0;
  std::optional<double> lateness_p99_us;
  std::vector<ClientStatus> clients;
  template <class S, class V> static void each(S& s, V& v) {
    v("started", s.started, Lim::kNone, kRequired);
    v("frames", s.frames, Lim::kFrame, kRequired);
    v("fps", s.fps, Lim::kNone, kRequired);
    v("late", s.late, Lim::kNone, kRequired);
    v("lateness_p99_us", s.lateness_p99_us, Lim::kNone, kRequired);
    v("clients", s.clients, Lim::kNone, kRequired);
  }
};

COSIM_MESSAGE(ClientEvent, "CLIENT")
  std::string name;
  std::string event;
  std::string reason;
  std::vector<DirectStream> direct;  // the component's (joined/ready: offered; left/dropped: gone)
  template <class S, class V> static void each(S& s, V& v) {
    v("name", s.name, Lim::kName, kRequired);
    v("event", s.event, Lim::kClientEvent, kRequired);
    v("reason", s.reason, Lim::kText, kOptional);
    v("direct", s.direct, Lim::kNone, kOptional);
  }
};

// --- data bus --------------------------------------------------------------------------------
// Everything that moves (vehicles, and persons of class "pedestrian"); lights_version names the
// TRAFFIC_LIGHTS table in force (0: none).
COSIM_MESSAGE(Vehicles, "VEHICLES")
  int64_t sim_ns = 0;
  int64_t ids_version = 0;
  int64_t lights_version = 0;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("sim_ns", s.sim_ns, Lim::kNone, kRequired);
    v("ids_version", s.ids_version, Lim::kU32, kRequired);
    v("lights_version", s.lights_version, Lim::kU32, kOptional);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

// The table is the payload: arrays handles "<u4" (n), ids, types and classes "|S<w>" (n),
// size_cm "<f4" (n, 3) and color "|u1" (n, 4), in that order (vehicle_ids_arrays builds them,
// parse_vehicle_ids reads them; decode checks them).
COSIM_MESSAGE(VehicleIds, "VEHICLE_IDS")
  int64_t ids_version = 0;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("ids_version", s.ids_version, Lim::kU32, kRequired);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

// `frame` is the frame the event belongs to and t_ns that frame's scheduled time (the frame
// clock); at_ns is when it happened, between frames.
COSIM_MESSAGE(Event, "EVENT")
  std::string kind;
  std::optional<int64_t> sim_ns;
  std::string subject;
  ScalarMap data;
  std::optional<int64_t> at_ns;
  template <class S, class V> static void each(S& s, V& v) {
    v("kind", s.kind, Lim::kName, kRequired);
    v("sim_ns", s.sim_ns, Lim::kNone, kOptional);
    v("subject", s.subject, Lim::kName, kOptional);
    v("data", s.data, Lim::kName, kOptional);
    v("at_ns", s.at_ns, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(Pose, "POSE")
  std::string device;
  std::string device_class;
  std::string serial;
  int64_t sample_ns = 0;
  std::optional<int64_t> photon_ns;
  Vec3 position{};
  Quat orientation{1.0, 0.0, 0.0, 0.0};
  Vec3 velocity{};
  Vec3 angular_velocity{};
  template <class S, class V> static void each(S& s, V& v) {
    v("device", s.device, Lim::kName, kRequired);
    v("device_class", s.device_class, Lim::kName, kOptional);
    v("serial", s.serial, Lim::kName, kOptional);
    v("sample_ns", s.sample_ns, Lim::kNone, kRequired);
    v("photon_ns", s.photon_ns, Lim::kNone, kOptional);
    v("position", s.position, Lim::kNone, kRequired);
    v("orientation", s.orientation, Lim::kNone, kRequired);
    v("velocity", s.velocity, Lim::kNone, kOptional);
    v("angular_velocity", s.angular_velocity, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(Residuals, "RESIDUALS")
  std::string asset;
  int64_t base_frame = 0;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("asset", s.asset, Lim::kName, kRequired);
    v("base_frame", s.base_frame, Lim::kFrame, kRequired);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

// The asset a refiner refines (topic refine.asset): payload rest "<f4" (n, 3) in metres and faces
// "<u4" (f, 3); base_sha256 names the base motion the residuals refine. parse_asset checks it.
COSIM_MESSAGE(Asset, "ASSET")
  std::string asset;
  int64_t vertices = 0;
  double base_fps = 0;
  int64_t base_frames = 0;
  std::string base_sha256;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("asset", s.asset, Lim::kName, kRequired);
    v("vertices", s.vertices, Lim::kU32, kRequired);
    v("base_fps", s.base_fps, Lim::kRate, kRequired);
    v("base_frames", s.base_frames, Lim::kU32, kRequired);
    v("base_sha256", s.base_sha256, Lim::kSha256, kRequired);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

// A closed asset streamed as spherical-harmonic coefficients (topic refine.asset): payload rest,
// sphere (unit vectors), detail "<f4" (n, 3) and faces "<u4" (f, 3). parse_sh_asset checks it.
COSIM_MESSAGE(ShAsset, "SH_ASSET")
  std::string asset;
  int64_t vertices = 0;
  int64_t degree = 0;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("asset", s.asset, Lim::kName, kRequired);
    v("vertices", s.vertices, Lim::kU32, kRequired);
    v("degree", s.degree, Lim::kShDegree, kRequired);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

// One frame of an SH asset (topic refine.sh): coeffs "<f4" ((degree+1)^2, 3). parse_sh_frame checks it.
COSIM_MESSAGE(ShFrame, "SH_FRAME")
  std::string asset;
  int64_t degree = 0;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("asset", s.asset, Lim::kName, kRequired);
    v("degree", s.degree, Lim::kShDegree, kRequired);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(AudioOnset, "AUDIO_ONSET")
  std::string event_kind;
  int64_t scheduled_ns = 0;
  int64_t actual_ns = 0;
  bool late = false;
  template <class S, class V> static void each(S& s, V& v) {
    v("event_kind", s.event_kind, Lim::kName, kRequired);
    v("scheduled_ns", s.scheduled_ns, Lim::kNone, kRequired);
    v("actual_ns", s.actual_ns, Lim::kNone, kRequired);
    v("late", s.late, Lim::kNone, kOptional);
  }
};

COSIM_MESSAGE(FrameReport, "FRAME_REPORT")
  int64_t recv_ns = 0;
  int64_t present_ns = 0;
  int64_t photon_ns = 0;
  std::optional<int64_t> pose_sample_ns;
  std::optional<int64_t> residual_frame;
  ScalarMap data;
  template <class S, class V> static void each(S& s, V& v) {
    v("recv_ns", s.recv_ns, Lim::kNone, kRequired);
    v("present_ns", s.present_ns, Lim::kNone, kRequired);
    v("photon_ns", s.photon_ns, Lim::kNone, kRequired);
    v("pose_sample_ns", s.pose_sample_ns, Lim::kNone, kOptional);
    v("residual_frame", s.residual_frame, Lim::kFrame, kOptional);
    v("data", s.data, Lim::kName, kOptional);
  }
};

COSIM_MESSAGE(Request, "REQUEST")
  std::string what;
  template <class S, class V> static void each(S& s, V& v) { v("what", s.what, Lim::kName, kRequired); }
};

// Every traffic light's state, on change and on request: arrays ids and states "|S<w>" (m), a
// state being SUMO's signal string, one character per controlled link (traffic_lights_arrays builds
// them, parse_traffic_lights reads them; decode checks them).
COSIM_MESSAGE(TrafficLights, "TRAFFIC_LIGHTS")
  int64_t sim_ns = 0;
  int64_t lights_version = 0;
  std::vector<ArraySpec> arrays;
  template <class S, class V> static void each(S& s, V& v) {
    v("sim_ns", s.sim_ns, Lim::kNone, kRequired);
    v("lights_version", s.lights_version, Lim::kU32, kRequired);
    v("arrays", s.arrays, Lim::kNone, kOptional);
  }
};

#undef COSIM_MESSAGE

using Message = std::variant<Hello, Ready, Ack, Probe, Heartbeat, Bye, Welcome, Reject, ProbeReply, Error,
                             Tick, Start, End, Status, ClientEvent, Vehicles, VehicleIds, Event, Pose,
                             Residuals, Asset, AudioOnset, FrameReport, Request, TrafficLights, ShAsset,
                             ShFrame>;

// Which decoder: the same four directions as protocol.py (plus kAny for tools and tests).
enum class Channel : uint8_t { kControlRequest, kControlReply, kBroadcast, kBus, kAny };

// One raw payload frame and its description.
struct Array {
  ArraySpec spec;
  std::vector<uint8_t> bytes;
};

struct Decoded {
  std::string topic;
  Message msg;
  std::vector<Array> arrays;
  const Array* find(std::string_view name) const;
};

COSIMCORE_API const char* type_name(const Message& msg);
COSIMCORE_API Common& common(Message& msg);
COSIMCORE_API const Common& common(const Message& msg);

// Bytes per element of an allowed dtype ("<f4", "|u1", ..., or a byte string "|S1" .. "|S512");
// 0 for a dtype the protocol forbids.
COSIMCORE_API size_t dtype_size(std::string_view dtype);

// Builds an Array from typed data; checks that shape and element count agree.
COSIMCORE_API Result<Array> make_array(std::string name, std::string dtype, std::vector<int64_t> shape,
                                       const void* data, size_t bytes);

// [topic, header, *payload]. A message that carries arrays gets its `arrays` specs from `arrays`.
COSIMCORE_API Result<std::vector<std::string>> encode(std::string_view topic, Message msg,
                                                      const std::vector<Array>& arrays = {});

// Strict decode of one multipart message; every failure is a readable error, never a crash.
// A VEHICLE_IDS whose arrays are missing or inconsistent (see parse_vehicle_ids) is rejected too.
COSIMCORE_API Result<Decoded> decode(const std::vector<std::string_view>& frames, Channel channel,
                                     size_t max_message_bytes = kMaxMessageBytes);

// The vehicle id table of a VEHICLE_IDS message, row by row: handle -> SUMO id, type, class
// ("passenger", "bus", "pedestrian" for a person, "" unknown), size (length, width, height in cm;
// 0 unknown) and colour (RGBA; alpha 0: none given).
struct VehicleIdTable {
  int64_t ids_version = 0;
  std::vector<uint32_t> handles;
  std::vector<std::string> ids;
  std::vector<std::string> types;
  std::vector<std::string> classes;
  std::vector<std::array<float, 3>> size_cm;
  std::vector<std::array<uint8_t, 4>> color;
};

// The payload of a VEHICLE_IDS: handles "<u4", ids, types and classes "|S<w>" (w = the longest
// name's UTF-8 bytes, at least 1; NUL-padded), size_cm "<f4" (n, 3), color "|u1" (n, 4). Names
// are clipped to kNameLimit characters; names that are not UTF-8 or contain a NUL, and columns of
// different lengths, are errors. Left empty, classes are "", sizes and colours 0.
COSIMCORE_API Result<std::vector<Array>> vehicle_ids_arrays(const std::vector<uint32_t>& handles,
                                                            const std::vector<std::string>& ids,
                                                            const std::vector<std::string>& types,
                                                            const std::vector<std::string>& classes = {},
                                                            const std::vector<std::array<float, 3>>& size_cm = {},
                                                            const std::vector<std::array<uint8_t, 4>>& color = {});

// Reads a VEHICLE_IDS message's table; an error names the problem (missing array, wrong dtype or
// shape, length mismatch, invalid UTF-8, a NUL inside a name, a name over kNameLimit characters).
COSIMCORE_API Result<VehicleIdTable> parse_vehicle_ids(const Decoded& msg);

// The traffic lights of a TRAFFIC_LIGHTS message: id -> state, row by row.
struct TrafficLightTable {
  int64_t lights_version = 0;
  int64_t sim_ns = 0;
  std::vector<std::string> ids;
  std::vector<std::string> states;
};

constexpr size_t kStateLimit = 512;  // characters of a traffic light's state (one per controlled link)
COSIMCORE_API Result<std::vector<Array>> traffic_lights_arrays(const std::vector<std::string>& ids,
                                                               const std::vector<std::string>& states);
COSIMCORE_API Result<TrafficLightTable> parse_traffic_lights(const Decoded& msg);

}  // namespace cosim
