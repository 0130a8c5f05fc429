#include "mp_value.h"

#include <cstring>

namespace cosim {
namespace mp {

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::kNil: return "nil";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt:
    case Value::Kind::kUInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kStr: return "str";
    case Value::Kind::kBin: return "bytes";
    case Value::Kind::kArray: return "array";
    case Value::Kind::kMap: return "object";
  }
  return "?";
}

namespace {

class Reader {
 public:
  Reader(std::string_view data, int max_depth) : d_(data), max_depth_(max_depth) {}

  bool value(Value& out, int depth) {
    if (depth > max_depth_) return fail("nesting deeper than " + std::to_string(max_depth_));
    uint8_t tag = 0;
    if (!byte(tag)) return false;
    if (tag <= 0x7f) return set_int(out, tag);
    if (tag >= 0xe0) return set_int(out, static_cast<int8_t>(tag));
    if ((tag & 0xe0) == 0xa0) return str(out, tag & 0x1f, Value::Kind::kStr);
    if ((tag & 0xf0) == 0x90) return array(out, tag & 0x0f, depth);
    if ((tag & 0xf0) == 0x80) return map(out, tag & 0x0f, depth);
    uint64_t n = 0;
    switch (tag) {
      case 0xc0: out.kind = Value::Kind::kNil; return true;
      case 0xc2: out.kind = Value::Kind::kBool; out.b = false; return true;
      case 0xc3: out.kind = Value::Kind::kBool; out.b = true; return true;
      case 0xc4: return be(n, 1) && str(out, n, Value::Kind::kBin);
      case 0xc5: return be(n, 2) && str(out, n, Value::Kind::kBin);
      case 0xc6: return be(n, 4) && str(out, n, Value::Kind::kBin);
      case 0xca: {
        if (!be(n, 4)) return false;
        const uint32_t bits = static_cast<uint32_t>(n);
        float f;
        std::memcpy(&f, &bits, 4);
        out.kind = Value::Kind::kFloat;
        out.f = f;
        return true;
      }
      case 0xcb: {
        if (!be(n, 8)) return false;
        std::memcpy(&out.f, &n, 8);
        out.kind = Value::Kind::kFloat;
        return true;
      }
      case 0xcc: return be(n, 1) && set_uint(out, n);
      case 0xcd: return be(n, 2) && set_uint(out, n);
      case 0xce: return be(n, 4) && set_uint(out, n);
      case 0xcf: return be(n, 8) && set_uint(out, n);
      case 0xd0: return be(n, 1) && set_int(out, static_cast<int8_t>(n));
      case 0xd1: return be(n, 2) && set_int(out, static_cast<int16_t>(n));
      case 0xd2: return be(n, 4) && set_int(out, static_cast<int32_t>(n));
      case 0xd3: return be(n, 8) && set_int(out, static_cast<int64_t>(n));
      case 0xd9: return be(n, 1) && str(out, n, Value::Kind::kStr);
      case 0xda: return be(n, 2) && str(out, n, Value::Kind::kStr);
      case 0xdb: return be(n, 4) && str(out, n, Value::Kind::kStr);
      case 0xdc: return be(n, 2) && array(out, n, depth);
      case 0xdd: return be(n, 4) && array(out, n, depth);
      case 0xde: return be(n, 2) && map(out, n, depth);
      case 0xdf: return be(n, 4) && map(out, n, depth);
      default: break;
    }
    return fail("unsupported msgpack type byte 0x" + hex(tag) + " at offset " + std::to_string(pos_ - 1));
  }

  bool at_end() const { return pos_ == d_.size(); }
  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  static std::string hex(uint8_t b) {
    const char* digits = "0123456789abcdef";
    return std::string{digits[b >> 4], digits[b & 15]};
  }
  bool fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    return false;
  }
  size_t left() const { return d_.size() - pos_; }
  bool byte(uint8_t& b) {
    if (left() < 1) return fail("truncated msgpack data at offset " + std::to_string(pos_));
    b = static_cast<uint8_t>(d_[pos_++]);
    return true;
  }
  bool be(uint64_t& out, int n) {
    if (left() < static_cast<size_t>(n)) return fail("truncated msgpack data at offset " + std::to_string(pos_));
    out = 0;
    for (int k = 0; k < n; ++k) out = (out << 8) | static_cast<uint8_t>(d_[pos_++]);
    return true;
  }
  static bool set_int(Value& out, int64_t v) {
    out.kind = Value::Kind::kInt;
    out.i = v;
    return true;
  }
  static bool set_uint(Value& out, uint64_t v) {
    if (v <= static_cast<uint64_t>(INT64_MAX)) return set_int(out, static_cast<int64_t>(v));
    out.kind = Value::Kind::kUInt;
    out.u = v;
    return true;
  }
  bool str(Value& out, uint64_t n, Value::Kind kind) {
    if (n > left()) return fail("truncated msgpack data: " + std::to_string(n) + "-byte string with " +
                                std::to_string(left()) + " bytes left");
    out.kind = kind;
    out.s.assign(d_.data() + pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }
  // Every element takes at least one byte, so a count above the bytes left is a lie: reject it
  // before reserving memory for it.
  bool array(Value& out, uint64_t n, int depth) {
    if (n > left()) return fail("truncated msgpack data: array of " + std::to_string(n) + " with " +
                                std::to_string(left()) + " bytes left");
    out.kind = Value::Kind::kArray;
    out.items.resize(static_cast<size_t>(n));
    for (auto& item : out.items)
      if (!value(item, depth + 1)) return false;
    return true;
  }
  bool map(Value& out, uint64_t n, int depth) {
    if (n * 2 > left()) return fail("truncated msgpack data: map of " + std::to_string(n) + " with " +
                                    std::to_string(left()) + " bytes left");
    out.kind = Value::Kind::kMap;
    out.map.resize(static_cast<size_t>(n));
    for (auto& kv : out.map)
      if (!value(kv.first, depth + 1) || !value(kv.second, depth + 1)) return false;
    return true;
  }

  std::string_view d_;
  size_t pos_ = 0;
  int max_depth_;
  std::string error_;
};

}  // namespace

Result<Value> parse(std::string_view bytes, int max_depth) {
  Reader r(bytes, max_depth);
  Value v;
  if (!r.value(v, 0)) return Result<Value>::fail("malformed header: " + r.error());
  if (!r.at_end())
    return Result<Value>::fail("malformed header: " + std::to_string(bytes.size() - r.pos()) +
                               " trailing byte(s) after the map");
  return v;
}

}  // namespace mp
}  // namespace cosim
