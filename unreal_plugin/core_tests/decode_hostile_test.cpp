// Hostile input: every malformed message is rejected with a clear error, never a crash.
#include <gtest/gtest.h>

#include "cosim/protocol.h"

namespace {

using cosim::Channel;
constexpr int kV = static_cast<int>(cosim::kProtocolVersion);

cosim::Result<cosim::Decoded> dec(const std::vector<std::string>& frames, Channel ch = Channel::kAny) {
  return cosim::decode(std::vector<std::string_view>(frames.begin(), frames.end()), ch);
}

std::vector<std::string> encoded(const cosim::Message& m, const std::vector<cosim::Array>& arrays = {}) {
  auto r = cosim::encode("t", m, arrays);
  EXPECT_TRUE(r) << r.error();
  return r.take();
}

// A msgpack map {"type": type, "v": v} followed by raw extra pairs.
std::string header(const std::string& type, int v, const std::string& extra_pairs = "", int extra_count = 0) {
  std::string h;
  h += static_cast<char>(0x80 | (2 + extra_count));
  h += "\xa4type";
  h += static_cast<char>(0xa0 | type.size());
  h += type;
  h += "\xa1v";
  h += static_cast<char>(v);
  return h + extra_pairs;
}

void expect_error(const cosim::Result<cosim::Decoded>& r, const std::string& part) {
  ASSERT_FALSE(r) << "decoded although it should not";
  EXPECT_NE(r.error().find(part), std::string::npos) << "error was: " << r.error();
}

TEST(DecodeHostile, TruncatedAndOversizedFrames) {
  expect_error(dec({"ctl"}), "truncated message: 1 frame(s)");
  expect_error(dec(std::vector<std::string>(19, "x")), "oversized message: 19 frames");
  expect_error(dec({"ctl", std::string(70000, '\x80')}), "oversized header");
  expect_error(cosim::decode({"ctl", "\x80"}, Channel::kAny, 2), "oversized message: 4 bytes");
}

TEST(DecodeHostile, MalformedMsgpack) {
  auto frames = encoded(cosim::Hello{});
  frames[1].resize(frames[1].size() - 3);
  expect_error(dec(frames), "malformed header: truncated");
  expect_error(dec({"t", "\xc1"}), "unsupported msgpack type byte 0xc1");
  expect_error(dec({"t", "\xdd\xff\xff\xff\xff"}), "truncated msgpack data: array of 4294967295");
  expect_error(dec({"t", std::string("\x80\x80", 2)}), "trailing byte");
  expect_error(dec({"t", "\x93\x01\x02\x03"}), "expected a map");
  std::string deep(40, '\x91');
  expect_error(dec({"t", deep + "\x01"}), "nesting deeper");
}

TEST(DecodeHostile, VersionAndType) {
  expect_error(dec({"t", header("READY", 4)}), "unsupported protocol version 4 (this side speaks 5)");
  expect_error(dec({"t", header("READY", 6)}), "unsupported protocol version 6 (this side speaks 5)");
  expect_error(dec({"t", header("READY", 1)}), "unsupported protocol version 1 (this side speaks 5)");
  expect_error(dec({"t", header("NOPE", kV)}), "unknown or unexpected message type 'NOPE'");
  expect_error(dec({"t", header("READY", kV)}, Channel::kBus), "unexpected message type 'READY' on this channel");
  expect_error(dec({"t", header("TICK", kV)}, Channel::kControlRequest), "unexpected message type 'TICK'");
  EXPECT_TRUE(dec({"t", header("READY", kV)}, Channel::kControlRequest));
  // `v` is required (docs/protocol.md): a header of only its type is refused, by name
  expect_error(dec({"t", std::string("\x81\xa4type\xa5READY")}, Channel::kControlRequest),
               "missing required field `v`");
}

TEST(DecodeHostile, FieldsAreStrict) {
  expect_error(dec({"t", header("READY", kV, "\xa5" "bogus\x01", 1)}), "unknown field `bogus`");
  expect_error(dec({"t", header("PROBE", kV, "\xa3seq\x01", 1)}), "missing required field `t0`");
  expect_error(dec({"t", header("PROBE", kV, "\xa3seq\xa1x\xa2t0\x01", 2)}), "expected int, got str - at `$.seq`");
  expect_error(dec({"t", header("PROBE", kV, "\xa3seq\xff\xa2t0\x01", 2)}), "expected int in [0, 4294967295]");
  expect_error(dec({"t", header("PROBE", kV, "\xa3seq\x01\xa2t0\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 2)}),
               "int out of range");
  expect_error(dec({"t", header("READY", kV, "\xa5" "frame\xff", 1)}), "expected int >= 0");
  expect_error(dec({"t", header("READY", kV, "\xa1v\x01", 1)}), "duplicate field `v`");
  expect_error(dec({"t", header("READY", kV, "\xa3src\xa2\xff\xfe", 1)}), "invalid UTF-8");
  expect_error(dec({"t", header("BYE", kV, "\xa6reason\xc3", 1)}), "expected str, got bool");
  cosim::Welcome w;
  w.mode = "paused";
  expect_error(dec(encoded(w)), "expected one of 'realtime', 'lockstep'");
  cosim::Hello h;
  h.name = std::string(129, 'a');
  expect_error(dec(encoded(h)), "expected str of length <= 128");
}

// `direct` (protocol v3) on HELLO, WELCOME and CLIENT: each entry exactly topic, endpoint, host, the
// endpoint a tcp://, ipc:// or inproc:// address of at most 256 characters, at most 16 entries.
TEST(DecodeHostile, DirectStreamsAreStrict) {
  const cosim::DirectStream good{"pose", "tcp://127.0.0.1:41234", "rig-pc"};
  cosim::ClientEvent c;
  c.name = "pose";
  c.event = "joined";
  const auto with = [&](std::vector<cosim::DirectStream> direct) {
    cosim::ClientEvent m = c;
    m.direct = std::move(direct);
    return dec(encoded(m), Channel::kBroadcast);
  };

  auto none = dec(encoded(c), Channel::kBroadcast);  // encoded as an empty list, decoded as one
  ASSERT_TRUE(none) << none.error();
  EXPECT_TRUE(std::get<cosim::ClientEvent>(none.value().msg).direct.empty());
  auto ok = with({good, {"pose", "ipc:///tmp/p.direct", "h"}, {"pose", "inproc://p", "h"}});
  ASSERT_TRUE(ok) << ok.error();
  const auto& got = std::get<cosim::ClientEvent>(ok.value().msg).direct;
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].topic, "pose");
  EXPECT_EQ(got[0].endpoint, "tcp://127.0.0.1:41234");
  EXPECT_EQ(got[0].host, "rig-pc");
  EXPECT_EQ(got[2].endpoint, "inproc://p");
  EXPECT_TRUE(with(std::vector<cosim::DirectStream>(16, good)));

  for (const char* bad : {"http://x", "udp://x", "tcp:/x", "TCP://x", "", " tcp://x", "epgm://x"})
    expect_error(with({good, {"pose", bad, "h"}}),
                 "expected str matching regex '^(tcp|ipc|inproc)://' (a tcp://, ipc:// or inproc:// endpoint), got '" +
                     std::string(bad) + "' - at `$.direct[1].endpoint`");
  expect_error(with({{"pose", "tcp://" + std::string(251, 'x'), "h"}}),
               "expected str of length <= 256 - at `$.direct[0].endpoint`");
  EXPECT_TRUE(with({{"pose", "tcp://" + std::string(250, 'x'), "h"}}));
  expect_error(with({{std::string(129, 't'), "tcp://x", "h"}}), "expected str of length <= 128 - at `$.direct[0].topic`");
  expect_error(with({{"pose", "tcp://x", std::string(129, 'h')}}), "expected str of length <= 128 - at `$.direct[0].host`");
  expect_error(with(std::vector<cosim::DirectStream>(17, good)), "expected array of length <= 16 - at `$.direct`");

  // missing, unknown and mistyped entries: the header written out byte for byte
  const std::string client = "\xa4name\xa4pose\xa5" "event\xa6joined\xa6" "direct\x91";
  const auto raw = [&](const std::string& entry) {
    return dec({"session", header("CLIENT", kV, client + entry, 3)}, Channel::kBroadcast);
  };
  EXPECT_TRUE(raw("\x83\xa5topic\xa4pose\xa8" "endpoint\xa7tcp://x\xa4host\xa1h"));
  expect_error(raw("\x82\xa5topic\xa4pose\xa8" "endpoint\xa7tcp://x"),
               "object missing required field `host` - at `$.direct[0]`");
  expect_error(raw("\x82\xa5topic\xa4pose\xa4host\xa1h"), "object missing required field `endpoint` - at `$.direct[0]`");
  expect_error(raw("\x84\xa5topic\xa4pose\xa8" "endpoint\xa7tcp://x\xa4host\xa1h\xa4port\x01"),
               "object contains unknown field `port` - at `$.direct[0]`");
  expect_error(raw("\x83\xa5topic\xa4pose\xa8" "endpoint\x07\xa4host\xa1h"), "expected str, got int - at `$.direct[0].endpoint`");
  expect_error(raw("\xa4pose"), "expected object, got str - at `$.direct[0]`");
  expect_error(dec({"session", header("CLIENT", kV, "\xa4name\xa4pose\xa5" "event\xa6joined\xa6" "direct\xc0", 3)},
                   Channel::kBroadcast),
               "expected array, got nil - at `$.direct`");

  // the same list on HELLO and WELCOME
  cosim::Hello h;
  h.name = "pose";
  h.direct = {good, {"pose", "udp://x", "h"}};
  expect_error(dec(encoded(h), Channel::kControlRequest), "got 'udp://x' - at `$.direct[1].endpoint`");
  h.direct.assign(17, good);
  expect_error(dec(encoded(h), Channel::kControlRequest), "expected array of length <= 16 - at `$.direct`");
  cosim::Welcome w;
  w.session_id = "s";
  w.mode = "lockstep";
  w.direct = {{"pose", "tcp://x", ""}};
  auto welcome = dec(encoded(w), Channel::kControlReply);
  ASSERT_TRUE(welcome) << welcome.error();
  EXPECT_EQ(std::get<cosim::Welcome>(welcome.value().msg).direct.size(), 1u);
  w.direct[0].host = std::string(129, 'h');
  expect_error(dec(encoded(w), Channel::kControlReply), "- at `$.direct[0].host`");
}

TEST(DecodeHostile, NestedErrorsNameTheirPath) {
  cosim::Status s;
  s.clients.resize(2);
  s.clients[1].name = std::string(129, 'c');
  expect_error(dec(encoded(s), Channel::kBroadcast), "expected str of length <= 128 - at `$.clients[1].name`");
  cosim::Welcome w;
  w.session_id = "s";
  w.mode = "`$x` - at `$y";  // quoted in the message with its backticks replaced, the path stays right
  expect_error(dec(encoded(w), Channel::kControlReply), "got ''$x' - at '$y' - at `$.mode`");
}

TEST(DecodeHostile, FloatFieldsAcceptIntsLikeMsgspec) {
  cosim::Start s;
  s.mode = "realtime";
  s.session_id = "x";
  auto frames = encoded(s);
  auto ok = dec(frames);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(std::get<cosim::Start>(ok.value().msg).rate_hz, 0.0);
}

TEST(DecodeHostile, ArrayPayloadsMustMatchTheirSpecs) {
  cosim::Residuals r;
  r.asset = "skirt";
  const uint16_t half[6] = {0, 0, 0, 0, 0, 0};
  auto arr = cosim::make_array("offsets", "<f2", {2, 3}, half, sizeof half);
  ASSERT_TRUE(arr);
  auto frames = encoded(r, {arr.value()});
  EXPECT_TRUE(dec(frames));
  auto cut = frames;
  cut[2].resize(5);
  expect_error(dec(cut), "array 'offsets': 5 bytes for its shape of <f2 (expected 12; truncated or corrupt)");
  auto missing = frames;
  missing.pop_back();
  expect_error(dec(missing), "header describes 1 array(s) but 0 payload frame(s) follow");
  auto twice = encoded(r, {arr.value(), arr.value()});
  expect_error(dec(twice), "array 'offsets' appears twice");
  cosim::Array bad = arr.value();
  bad.spec.dtype = "<c8";
  EXPECT_FALSE(cosim::encode("t", r, {bad}));
  EXPECT_FALSE(cosim::encode("t", cosim::Ready{}, {arr.value()}));
  EXPECT_FALSE(cosim::make_array("x", "<f4", {3}, half, 2));
}

// `frames` with the first `from` in the header replaced by `to` (same length: the msgpack str prefix stays).
std::vector<std::string> patched(std::vector<std::string> frames, const std::string& from, const std::string& to) {
  const size_t pos = frames[1].find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  EXPECT_EQ(from.size(), to.size());
  if (pos != std::string::npos) frames[1].replace(pos, from.size(), to);
  return frames;
}

TEST(DecodeHostile, ByteStringDtypesAreExactlyS1ToS512) {
  EXPECT_EQ(cosim::dtype_size("|S1"), 1u);
  EXPECT_EQ(cosim::dtype_size("|S77"), 77u);
  EXPECT_EQ(cosim::dtype_size("|S512"), 512u);
  for (const char* bad : {"|S0", "|S513", "|S5120", "<S4", ">S4", "|U4", "<U4", "|S08", "|S", "S4", "|S-1", "|V4", "|S4 "})
    EXPECT_EQ(cosim::dtype_size(bad), 0u) << bad;

  cosim::Residuals r;
  r.asset = "a";
  const std::string four("ab\0\0cdef", 8), sixteen(32, 'x'), wide(512, 'y');
  auto s4 = cosim::make_array("labels", "|S4", {2}, four.data(), four.size());
  auto s16 = cosim::make_array("labels", "|S16", {2}, sixteen.data(), sixteen.size());
  auto s512 = cosim::make_array("labels", "|S512", {1}, wide.data(), wide.size());
  ASSERT_TRUE(s4 && s16 && s512);
  auto ok = dec(encoded(r, {s4.value()}), Channel::kBus);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok.value().arrays[0].spec.dtype, "|S4");
  EXPECT_TRUE(dec(encoded(r, {s512.value()}), Channel::kBus));
  const auto base = encoded(r, {s4.value()});
  for (const char* bad : {"|S0", "<S4", ">S4", "|U4", "<U4", "|V4"})
    expect_error(dec(patched(base, "|S4", bad)), std::string("array 'labels': dtype '") + bad + "' is not allowed");
  expect_error(dec(patched(encoded(r, {s16.value()}), "|S16", "|S08")), "dtype '|S08' is not allowed");
  expect_error(dec(patched(encoded(r, {s512.value()}), "|S512", "|S513")), "array 'labels': dtype '|S513' is not allowed");
  auto unicode = s4.value();
  unicode.spec.dtype = "|U1";
  EXPECT_FALSE(cosim::encode("t", r, {unicode}));
}

cosim::Array raw_array(const char* name, const char* dtype, std::vector<int64_t> shape, const std::string& bytes) {
  auto a = cosim::make_array(name, dtype, std::move(shape), bytes.data(), bytes.size());
  EXPECT_TRUE(a) << a.error();
  return a.take();
}

std::vector<cosim::Array> good_ids() {
  auto a = cosim::vehicle_ids_arrays({0, 1, 5}, {"veh0", "bus_7", "ped"}, {"passenger", "bus", "bicycle"});
  EXPECT_TRUE(a) << a.error();
  return a.take();
}

// The good table with its ids column replaced by three |S5 names written out byte for byte.
std::vector<cosim::Array> with_ids(const std::string& bytes) {
  auto a = good_ids();
  a[1] = raw_array("ids", "|S5", {3}, bytes);
  return a;
}

TEST(DecodeHostile, VehicleIdsArraysMustBeTheTable) {
  cosim::VehicleIds m;
  m.ids_version = 3;
  const auto ids_msg = [&](const std::vector<cosim::Array>& arrays) { return dec(encoded(m, arrays), Channel::kBus); };
  auto ok = ids_msg(good_ids());
  ASSERT_TRUE(ok) << ok.error();
  auto table = cosim::parse_vehicle_ids(ok.value());
  ASSERT_TRUE(table) << table.error();
  EXPECT_EQ(table.value().handles, (std::vector<uint32_t>{0, 1, 5}));
  EXPECT_EQ(table.value().ids, (std::vector<std::string>{"veh0", "bus_7", "ped"}));
  EXPECT_EQ(table.value().types, (std::vector<std::string>{"passenger", "bus", "bicycle"}));
  EXPECT_EQ(table.value().ids_version, 3);

  const auto g = good_ids();
  const auto but = [&](size_t k, cosim::Array a) {  // the good table with array k replaced
    auto out = good_ids();
    out[k] = std::move(a);
    return out;
  };
  expect_error(ids_msg({g[0], g[1]}), "VEHICLE_IDS: missing array 'types'");
  expect_error(ids_msg({}), "VEHICLE_IDS: missing array 'handles'");
  expect_error(ids_msg({g[0], g[2], g[1], g[3], g[4], g[5]}), "in this order");
  expect_error(ids_msg({g[0], g[1], g[2], g[3], g[4], g[5], raw_array("extra", "<u4", {1}, std::string(4, '\0'))}),
               "VEHICLE_IDS: unexpected array 'extra'");
  expect_error(ids_msg(but(0, raw_array("handles", "<i4", {3}, std::string(12, '\0')))), "'handles' must be <u4, got <i4");
  expect_error(ids_msg(but(1, raw_array("ids", "<u4", {1}, "veh0"))), "'ids' must be a byte string |S<w>, got <u4");
  expect_error(ids_msg(but(1, raw_array("ids", "|S5", {3, 1}, std::string("veh0\0bus_7ped\0\0", 15)))),
               "'ids' must be one-dimensional");
  expect_error(ids_msg(but(2, raw_array("types", "|S9", {2}, std::string(18, 'x')))),
               "array lengths differ: handles 3, ids 3, types 2, classes 3, size_cm 3, color 3");
  expect_error(ids_msg(but(4, raw_array("size_cm", "<f4", {3, 2}, std::string(24, '\0')))),
               "'size_cm' must be of shape (n, 3)");
  expect_error(ids_msg(but(5, raw_array("color", "<u4", {3, 4}, std::string(48, '\0')))), "'color' must be |u1, got <u4");
  expect_error(ids_msg(with_ids(std::string("veh0\0b\xffs_7ped\0\0", 15))), "VEHICLE_IDS: ids[1] is not valid UTF-8");
  expect_error(ids_msg(with_ids(std::string("veh0\0\xc3\0\0\0\0ped\0\0", 15))), "ids[1] is not valid UTF-8");  // cut by padding
  expect_error(ids_msg(with_ids(std::string("veh0\0bus_\xc3\xa9" "ed\0\0", 15))), "ids[1] is not valid UTF-8");  // by the field
  expect_error(ids_msg(with_ids(std::string("veh0\0\xc0\xafs_7ped\0\0", 15))), "ids[1] is not valid UTF-8");  // overlong '/'
  expect_error(ids_msg(with_ids(std::string("veh0\0b\0s_7ped\0\0", 15))), "VEHICLE_IDS: ids[1] contains a NUL byte");
  auto nul_type = good_ids();
  nul_type[2].bytes[0] = 0;
  expect_error(ids_msg(nul_type), "VEHICLE_IDS: types[0] contains a NUL byte");
  auto long_name = good_ids();
  long_name[1] = raw_array("ids", "|S129", {3}, std::string(129 * 3, 'x'));
  expect_error(ids_msg(long_name), "VEHICLE_IDS: ids[0] is longer than 128 characters");

  // parse_vehicle_ids checks a hand-built message the same way
  cosim::Decoded hand{"sumo.ids", m, {g[0], g[1], g[2], g[3], g[4]}};
  EXPECT_FALSE(cosim::parse_vehicle_ids(hand));
  hand.arrays.push_back(g[5]);
  EXPECT_TRUE(cosim::parse_vehicle_ids(hand));
  hand.arrays[2].bytes.pop_back();
  EXPECT_FALSE(cosim::parse_vehicle_ids(hand));
  EXPECT_FALSE(cosim::parse_vehicle_ids(cosim::Decoded{"t", cosim::Ready{}, {}}));
}

TEST(DecodeHostile, VehicleIdsArraysRefusesWhatCannotTravel) {
  EXPECT_FALSE(cosim::vehicle_ids_arrays({1}, {std::string("a\0b", 3)}, {"car"}));
  EXPECT_FALSE(cosim::vehicle_ids_arrays({1}, {"a", "b"}, {"car"}));
  EXPECT_FALSE(cosim::vehicle_ids_arrays({1}, {"\xff"}, {"car"}));
  auto empty = cosim::vehicle_ids_arrays({}, {}, {});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty.value()[1].spec.dtype, "|S1");
  EXPECT_EQ(empty.value()[1].spec.shape, (std::vector<int64_t>{0}));
  // clipped to 128 characters, not bytes: 2 ASCII + 126 two-byte characters = 254 bytes
  std::string name = "ab";
  for (int k = 0; k < 200; ++k) name += "\xc3\xa9";
  auto clipped = cosim::vehicle_ids_arrays({1}, {name}, {"car"});
  ASSERT_TRUE(clipped) << clipped.error();
  EXPECT_EQ(clipped.value()[1].spec.dtype, "|S254");
  EXPECT_EQ(clipped.value()[2].spec.dtype, "|S3");
}

TEST(DecodeHostile, CityScaleVehicleIdTableFitsTheProtocol) {
  const size_t n = 20000;
  std::vector<uint32_t> handles(n);
  std::vector<std::string> ids(n), types(n);
  for (size_t i = 0; i < n; ++i) {
    handles[i] = static_cast<uint32_t>(3 * i);
    std::string id = std::to_string(i);
    while (id.size() < 128) id += i % 2 ? "x" : "y";
    ids[i] = id;  // 128 characters
    types[i] = "type" + std::to_string(i % 17);
  }
  ids[7] = std::string(64, 'a');
  for (int k = 0; k < 64; ++k) ids[7] += "\xe2\x82\xac";  // 128 characters, 256 bytes
  auto arrays = cosim::vehicle_ids_arrays(handles, ids, types);
  ASSERT_TRUE(arrays) << arrays.error();
  cosim::VehicleIds m;
  m.ids_version = 4294967295LL;
  auto frames = encoded(m, arrays.value());
  EXPECT_LT(frames[1].size(), 1024u);  // the header only describes the arrays
  auto got = dec(frames, Channel::kBus);
  ASSERT_TRUE(got) << got.error();
  EXPECT_EQ(got.value().arrays[1].spec.dtype, "|S256");
  auto table = cosim::parse_vehicle_ids(got.value());
  ASSERT_TRUE(table) << table.error();
  EXPECT_EQ(table.value().handles, handles);
  EXPECT_EQ(table.value().ids, ids);
  EXPECT_EQ(table.value().types, types);
  EXPECT_EQ(table.value().ids_version, 4294967295LL);
}

TEST(DecodeHostile, RandomBytesNeverCrash) {
  uint32_t state = 12345;
  const auto next = [&]() { state = state * 1664525u + 1013904223u; return state >> 24; };
  cosim::Welcome w;
  w.mode = "lockstep";
  w.session_id = "abc";
  auto base = encoded(w);
  ASSERT_TRUE(dec(base));
  int rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto frames = base;
    std::string& h = frames[1];
    for (int k = 0; k < 3; ++k) h[next() % h.size()] = static_cast<char>(next());
    if (!dec(frames)) ++rejected;
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
