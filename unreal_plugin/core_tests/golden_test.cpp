// The golden vectors of tests/golden/ (written by `python -m cosim.golden`): every .bin must
// decode to the header and arrays its manifest entry lists, and re-encoding the decoded message
// must reproduce every frame byte for byte.
#include <gtest/gtest.h>

#include <cstring>

#include "cosim/protocol.h"
#include "cosim/residuals.h"
#include "json.h"

using testjson::Json;

namespace {

const std::string kDir = COSIM_GOLDEN_DIR;

std::vector<std::string> unpack_frames(const std::string& data) {
  auto u32 = [&](size_t pos) {
    uint32_t v;
    std::memcpy(&v, data.data() + pos, 4);
    return v;
  };
  std::vector<std::string> frames;
  if (data.size() < 4) return frames;
  const uint32_t n = u32(0);
  size_t pos = 4;
  for (uint32_t k = 0; k < n && pos + 4 <= data.size(); ++k) {
    const uint32_t len = u32(pos);
    frames.push_back(data.substr(pos + 4, len));
    pos += 4 + len;
  }
  EXPECT_EQ(pos, data.size()) << "trailing bytes in golden vector";
  return frames;
}

Json j_int(int64_t v) { Json j; j.kind = Json::Kind::kInt; j.i = v; return j; }
Json j_float(double v) { Json j; j.kind = Json::Kind::kFloat; j.f = v; return j; }
Json j_str(const std::string& v) { Json j; j.kind = Json::Kind::kStr; j.s = v; return j; }
Json j_bool(bool v) { Json j; j.kind = Json::Kind::kBool; j.b = v; return j; }

Json to_json(const std::string& v) { return j_str(v); }
Json to_json(bool v) { return j_bool(v); }
Json to_json(int64_t v) { return j_int(v); }
Json to_json(double v) { return j_float(v); }
Json to_json(const cosim::Scalar& v) { return std::visit([](const auto& x) { return to_json(x); }, v); }
template <class T>
Json to_json(const std::optional<T>& v) { return v ? to_json(*v) : Json{}; }
template <size_t N>
Json to_json(const std::array<double, N>& v) {
  Json j; j.kind = Json::Kind::kArr;
  for (double d : v) j.arr.push_back(j_float(d));
  return j;
}
Json to_json(const cosim::ScalarMap& m) {
  Json j; j.kind = Json::Kind::kObj;
  for (const auto& kv : m) j.obj.emplace_back(kv.first, to_json(kv.second));
  return j;
}
template <class T>
Json struct_json(const T& s);
Json to_json(const cosim::ArraySpec& s) { return struct_json(s); }
Json to_json(const cosim::ClientStatus& s) { return struct_json(s); }
Json to_json(const cosim::DirectStream& s) { return struct_json(s); }
template <class T>
Json to_json(const std::vector<T>& v) {
  Json j; j.kind = Json::Kind::kArr;
  for (const auto& x : v) j.arr.push_back(to_json(x));
  return j;
}

struct ToJson {
  Json& obj;
  template <class M>
  void operator()(const char* name, const M& member, cosim::Lim, bool) { obj.obj.emplace_back(name, to_json(member)); }
};

template <class T>
Json struct_json(const T& s) {
  Json j; j.kind = Json::Kind::kObj;
  ToJson v{j};
  T::each(s, v);
  return j;
}

Json header_json(const cosim::Message& msg) {
  return std::visit([](const auto& m) {
    using T = std::decay_t<decltype(m)>;
    Json j; j.kind = Json::Kind::kObj;
    j.obj.emplace_back("type", j_str(T::kType));
    j.obj.emplace_back("v", j_int(m.v));
    j.obj.emplace_back("frame", j_int(m.frame));
    j.obj.emplace_back("t_ns", j_int(m.t_ns));
    j.obj.emplace_back("src", j_str(m.src));
    ToJson v{j};
    T::each(m, v);
    return j;
  }, msg);
}

double element(const cosim::Array& a, size_t i) {
  const std::string& d = a.spec.dtype;
  const uint8_t* p = a.bytes.data();
  auto get = [&](auto tag) {
    decltype(tag) v;
    std::memcpy(&v, p + i * sizeof v, sizeof v);
    return static_cast<double>(v);
  };
  if (d == "|u1") return get(uint8_t{});
  if (d == "<u2") return get(uint16_t{});
  if (d == "<u4") return get(uint32_t{});
  if (d == "<i4") return get(int32_t{});
  if (d == "<f4") return get(float{});
  if (d == "<f8") return get(double{});
  if (d == "<f2") {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return cosim::half_to_float(h);
  }
  ADD_FAILURE() << "test does not read dtype " << d;
  return 0;
}

// Element i of a "|S<w>" array without its NUL padding.
std::string text(const cosim::Array& a, size_t i) {
  const size_t w = cosim::dtype_size(a.spec.dtype);
  std::string s(reinterpret_cast<const char*>(a.bytes.data()) + i * w, w);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

cosim::Channel channel_for(const std::string& topic, const std::string& type) {
  if (topic == "ctl") {
    for (const char* t : {"WELCOME", "REJECT", "PROBE_REPLY", "ERROR"})
      if (type == t) return cosim::Channel::kControlReply;
    return cosim::Channel::kControlRequest;
  }
  if (topic == "tick" || topic == "session") return cosim::Channel::kBroadcast;
  return cosim::Channel::kBus;
}

class Golden : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = testjson::parse(testjson::read_file(kDir + "/manifest.json"));
    ASSERT_TRUE(parsed) << parsed.error();
    manifest = parsed.take();
  }
  Json manifest;
};

TEST_F(Golden, ManifestCoversEveryMessageType) {
  std::vector<std::string> seen;
  for (const auto& kv : manifest.obj) seen.push_back(kv.second.get("type")->s);
  for (size_t i = 0; i < std::variant_size_v<cosim::Message>; ++i) {
    const char* tags[] = {"HELLO", "READY", "ACK", "PROBE", "HEARTBEAT", "BYE", "WELCOME", "REJECT",
                          "PROBE_REPLY", "ERROR", "TICK", "START", "END", "STATUS", "CLIENT", "VEHICLES",
                          "VEHICLE_IDS", "EVENT", "POSE", "RESIDUALS", "ASSET", "AUDIO_ONSET", "FRAME_REPORT",
                          "REQUEST", "TRAFFIC_LIGHTS", "SH_ASSET", "SH_FRAME"};
    EXPECT_NE(std::find(seen.begin(), seen.end(), tags[i]), seen.end()) << tags[i] << " has no golden vector";
  }
  EXPECT_EQ(std::variant_size_v<cosim::Message>, 27u);
}

TEST_F(Golden, DecodeMatchesManifestAndReencodesBytewise) {
  ASSERT_GE(manifest.obj.size(), 24u);
  for (const auto& [name, entry] : manifest.obj) {
    SCOPED_TRACE(name);
    const std::string data = testjson::read_file(kDir + "/" + name + ".bin");
    ASSERT_FALSE(data.empty()) << "missing " << name << ".bin";
    const auto frames = unpack_frames(data);
    const std::vector<std::string_view> views(frames.begin(), frames.end());
    const std::string topic = entry.get("topic")->s, type = entry.get("type")->s;

    auto decoded = cosim::decode(views, channel_for(topic, type));
    ASSERT_TRUE(decoded) << decoded.error();
    const cosim::Decoded& d = decoded.value();
    EXPECT_EQ(d.topic, topic);
    EXPECT_EQ(std::string(cosim::type_name(d.msg)), type);
    const Json got = header_json(d.msg);
    EXPECT_EQ(got, *entry.get("header")) << "decoded: " << got.dump() << "\nmanifest: " << entry.get("header")->dump();

    const Json& arrays = *entry.get("arrays");
    ASSERT_EQ(d.arrays.size(), arrays.obj.size());
    for (size_t k = 0; k < d.arrays.size(); ++k) {
      const auto& [aname, spec] = arrays.obj[k];
      const cosim::Array& a = d.arrays[k];
      EXPECT_EQ(a.spec.name, aname);
      EXPECT_EQ(a.spec.dtype, spec.get("dtype")->s);
      EXPECT_EQ(to_json(a.spec.shape), *spec.get("shape"));
      const auto& values = spec.get("values")->arr;
      ASSERT_EQ(a.bytes.size(), values.size() * cosim::dtype_size(a.spec.dtype));
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i].kind == Json::Kind::kStr) {  // a byte string column: the text each field holds
          EXPECT_EQ(text(a, i), values[i].s) << aname << "[" << i << "]";
          continue;
        }
        const double want = values[i].kind == Json::Kind::kInt ? static_cast<double>(values[i].i) : values[i].f;
        EXPECT_EQ(element(a, i), want) << aname << "[" << i << "]";
      }
    }

    auto encoded = cosim::encode(topic, d.msg, d.arrays);
    ASSERT_TRUE(encoded) << encoded.error();
    ASSERT_EQ(encoded.value().size(), frames.size());
    for (size_t k = 0; k < frames.size(); ++k) EXPECT_EQ(encoded.value()[k], frames[k]) << "frame " << k << " differs";
  }
}

TEST_F(Golden, EncodeFromScratchMatchesGoldenAck) {
  cosim::Ack a;
  a.frame = 1234;
  a.t_ns = 13711111111;
  a.src = "golden";
  a.recv_ns = -5;
  a.done_ns = 0;
  auto encoded = cosim::encode(cosim::topic::kControl, a);
  ASSERT_TRUE(encoded);
  const auto frames = unpack_frames(testjson::read_file(kDir + "/ack_minimal.bin"));
  EXPECT_EQ(encoded.value(), frames);
}

// The manifest's headers compare as whole JSON trees: a list of maps (`direct`, STATUS `clients`)
// must match entry by entry, key by key, so a dropped or reordered nested field fails.
TEST_F(Golden, NestedListsOfMapsAreCompared) {
  const Json* header = nullptr;
  for (const auto& kv : manifest.obj)
    if (kv.second.get("type")->s == "HELLO") header = kv.second.get("header");
  ASSERT_NE(header, nullptr);
  const Json* direct = header->get("direct");
  ASSERT_NE(direct, nullptr) << "HELLO golden vector has no `direct` (protocol v3)";
  ASSERT_EQ(direct->kind, Json::Kind::kArr);
  ASSERT_EQ(direct->arr.size(), 1u);
  ASSERT_EQ(direct->arr[0].kind, Json::Kind::kObj);
  Json changed = *header;
  for (auto& kv : changed.obj)
    if (kv.first == "direct") kv.second.arr[0].obj[1].second.s = "tcp://127.0.0.1:1";
  EXPECT_NE(changed, *header);
  Json empty = *header;
  for (auto& kv : empty.obj)
    if (kv.first == "direct") kv.second.arr.clear();
  EXPECT_NE(empty, *header);
}

// HELLO, WELCOME and CLIENT built field by field (protocol v3, with one direct stream each) encode
// to the golden bytes: `direct` comes last, after pid / probe_burst / reason.
TEST_F(Golden, EncodeFromScratchMatchesGoldenDirectStreams) {
  const auto stamp = [](cosim::Common& c) {
    c.frame = 1234;
    c.t_ns = 13711111111;
    c.src = "golden";
  };
  const auto check = [](const char* file, std::string_view topic, const cosim::Message& msg) {
    SCOPED_TRACE(file);
    auto encoded = cosim::encode(topic, msg);
    ASSERT_TRUE(encoded) << encoded.error();
    EXPECT_EQ(encoded.value(), unpack_frames(testjson::read_file(kDir + "/" + file)));
  };
  cosim::Hello h;
  stamp(h);
  h.name = "client";
  h.role = "client";
  h.required = true;
  h.host = "rig-pc";
  h.pid = 4242;
  h.direct = {{"pose", "tcp://127.0.0.1:41234", "rig-pc"}};
  check("hello.bin", cosim::topic::kControl, h);

  cosim::Welcome w;
  stamp(w);
  w.session_id = "abc123";
  w.host = "rig-pc";
  w.mode = "lockstep";
  w.rate_hz = 90.0;
  w.pace = 0.0;
  w.duration_s = 10.0;
  w.epoch_ns = 4611686018427400249LL;
  w.heartbeat_interval_s = 0.25;
  w.heartbeat_timeout_s = 2.0;
  w.probe_interval_s = 1.0;
  w.probe_burst = 8;
  w.direct = {{"pose", "ipc:///tmp/cosim/pose-7.direct", "rig-pc"}};
  check("welcome.bin", cosim::topic::kControl, w);

  cosim::ClientEvent c;
  stamp(c);
  c.name = "pose";
  c.event = "dropped";
  c.reason = "no heartbeat";
  c.direct = {{"pose", "tcp://127.0.0.1:41234", "rig-pc"}};
  check("client_event.bin", cosim::topic::kSession, c);
}

// A table message built from scratch encodes to its golden file byte for byte; returns the golden
// file decoded (from the bus decoder), for the caller to read the table back.
template <class M>
cosim::Decoded encoded_like_golden(std::string_view topic, M m, const cosim::Result<std::vector<cosim::Array>>& arrays,
                                   const std::string& file) {
  m.frame = 1234;
  m.t_ns = 13711111111;
  m.src = "golden";
  EXPECT_TRUE(arrays) << arrays.error();
  auto encoded = cosim::encode(topic, m, arrays.value());
  EXPECT_TRUE(encoded) << encoded.error();
  const auto frames = unpack_frames(testjson::read_file(kDir + "/" + file));
  EXPECT_EQ(encoded.value(), frames);
  auto decoded = cosim::decode(std::vector<std::string_view>(frames.begin(), frames.end()), cosim::Channel::kBus);
  EXPECT_TRUE(decoded) << decoded.error();
  return decoded.take();
}

TEST_F(Golden, EncodeFromScratchMatchesGoldenVehicleIds) {
  cosim::VehicleIds m;
  m.ids_version = 3;
  const auto decoded = encoded_like_golden(
      cosim::topic::kVehicleIds, m,
      cosim::vehicle_ids_arrays({0, 1, 5}, {"veh0", "bus_7", "fu\xc3\x9f" "g\xc3\xa4nger.2"},
                                {"passenger", "bus", "ped_walker"}, {"passenger", "bus", "pedestrian"},
                                {{450.0f, 180.0f, 150.0f}, {1200.0f, 250.0f, 340.0f}, {21.5f, 47.8f, 172.0f}},
                                {{255, 255, 0, 255}, {0, 128, 255, 255}, {0, 0, 0, 0}}),
      "vehicle_ids.bin");
  auto table = cosim::parse_vehicle_ids(decoded);
  ASSERT_TRUE(table) << table.error();
  EXPECT_EQ(table.value().ids[2], "fu\xc3\x9f" "g\xc3\xa4nger.2");
  EXPECT_EQ(table.value().types[0], "passenger");
  EXPECT_EQ(table.value().classes[2], "pedestrian");
  EXPECT_EQ(table.value().size_cm[1][0], 1200.0f);
  EXPECT_EQ(table.value().color[1][2], 255);
}

TEST_F(Golden, EncodeFromScratchMatchesGoldenTrafficLights) {
  cosim::TrafficLights m;
  m.sim_ns = 123400000000;
  m.lights_version = 2;
  const auto decoded = encoded_like_golden(cosim::topic::kTrafficLights, m,
                                           cosim::traffic_lights_arrays({"C", "junction_7"}, {"GGrrrGGrrr", "ryG"}),
                                           "traffic_lights.bin");
  auto table = cosim::parse_traffic_lights(decoded);
  ASSERT_TRUE(table) << table.error();
  EXPECT_EQ(table.value().ids[1], "junction_7");
  EXPECT_EQ(table.value().states[0], "GGrrrGGrrr");
  EXPECT_EQ(table.value().lights_version, 2);
  EXPECT_FALSE(cosim::traffic_lights_arrays({"a", "b"}, {"G"}));
}

}  // namespace
