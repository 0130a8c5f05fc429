// Hostile input: every malformed message is rejected with a clear error, never a crash.
#include <gtest/gtest.h>

#include "cosim/protocol.h"

namespace {

using cosim::Channel;

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
  expect_error(dec({"t", header("READY", 2)}), "unsupported protocol version 2 (this side speaks 1)");
  expect_error(dec({"t", header("NOPE", 1)}), "unknown or unexpected message type 'NOPE'");
  expect_error(dec({"t", header("READY", 1)}, Channel::kBus), "unexpected message type 'READY' on this channel");
  expect_error(dec({"t", header("TICK", 1)}, Channel::kControlRequest), "unexpected message type 'TICK'");
  EXPECT_TRUE(dec({"t", header("READY", 1)}, Channel::kControlRequest));
}

TEST(DecodeHostile, FieldsAreStrict) {
  expect_error(dec({"t", header("READY", 1, "\xa5" "bogus\x01", 1)}), "unknown field `bogus`");
  expect_error(dec({"t", header("PROBE", 1, "\xa3seq\x01", 1)}), "missing required field `t0`");
  expect_error(dec({"t", header("PROBE", 1, "\xa3seq\xa1x\xa2t0\x01", 2)}), "expected int, got str - at `$.seq`");
  expect_error(dec({"t", header("PROBE", 1, "\xa3seq\xff\xa2t0\x01", 2)}), "expected int in [0, 4294967295]");
  expect_error(dec({"t", header("PROBE", 1, "\xa3seq\x01\xa2t0\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 2)}),
               "int out of range");
  expect_error(dec({"t", header("READY", 1, "\xa5" "frame\xff", 1)}), "expected int >= 0");
  expect_error(dec({"t", header("READY", 1, "\xa1v\x01", 1)}), "duplicate field `v`");
  expect_error(dec({"t", header("READY", 1, "\xa3src\xa2\xff\xfe", 1)}), "invalid UTF-8");
  expect_error(dec({"t", header("BYE", 1, "\xa6reason\xc3", 1)}), "expected str, got bool");
  cosim::Welcome w;
  w.mode = "paused";
  expect_error(dec(encoded(w)), "expected one of 'realtime', 'lockstep'");
  cosim::Hello h;
  h.name = std::string(129, 'a');
  expect_error(dec(encoded(h)), "expected str of length <= 128");
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
