#include "cosim/protocol.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <msgpack/pack.hpp>

#include "mp_value.h"

namespace cosim {

namespace {

using mp::Value;

template <class T, class = void>
struct has_arrays : std::false_type {};
template <class T>
struct has_arrays<T, std::void_t<decltype(std::declval<T&>().arrays)>> : std::true_type {};

// --- constraints -------------------------------------------------------------------------------

// Counts the code points of strict UTF-8, as Python (msgspec) decodes it: no overlong forms, no
// surrogates, nothing above U+10FFFF. False for anything else.
bool utf8_codepoints(std::string_view s, size_t& count) {
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  count = 0;
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3fu);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n;
    ++count;
  }
  return true;
}

// Width of a byte string dtype "|S<w>" (1 <= w <= kMaxStringBytes, no leading zero); 0 otherwise.
size_t string_width(std::string_view dtype) {
  if (dtype.size() < 3 || dtype.size() > 5 || dtype[0] != '|' || dtype[1] != 'S' || dtype[2] == '0') return 0;
  size_t w = 0;
  for (size_t k = 2; k < dtype.size(); ++k) {
    if (dtype[k] < '0' || dtype[k] > '9') return 0;
    w = w * 10 + static_cast<size_t>(dtype[k] - '0');
  }
  return w <= kMaxStringBytes ? w : 0;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

// A received string quoted in an error message; backticks become ' so that the text cannot look
// like the " - at `$...`" path that at() extends.
std::string shown(const std::string& s) {
  std::string out = "'" + s + "'";
  std::replace(out.begin(), out.end(), '`', '\'');
  return out;
}

std::string check_string(const std::string& s, Lim lim) {
  size_t chars = 0;
  if (!utf8_codepoints(s, chars)) return "invalid UTF-8";
  const size_t max = lim == Lim::kName       ? kNameLimit
                     : lim == Lim::kText     ? 4096
                     : lim == Lim::kDtype    ? 8
                     : lim == Lim::kEndpoint ? kEndpointLimit
                                             : SIZE_MAX;
  if (chars > max) return "expected str of length <= " + std::to_string(max);
  if (lim == Lim::kEndpoint && !starts_with(s, "tcp://") && !starts_with(s, "ipc://") && !starts_with(s, "inproc://"))
    return "expected str matching regex '^(tcp|ipc|inproc)://' (a tcp://, ipc:// or inproc:// endpoint), got " +
           shown(s);
  if (lim == Lim::kSha256 && (s.size() != 64 || s.find_first_not_of("0123456789abcdef") != std::string::npos))
    return "expected str matching regex '^[0-9a-f]{64}$', got " + shown(s);
  if (lim == Lim::kMode && s != "realtime" && s != "lockstep")
    return "expected one of 'realtime', 'lockstep', got " + shown(s);
  if (lim == Lim::kClientEvent && s != "joined" && s != "ready" && s != "left" && s != "dropped" &&
      s != "rejected")
    return "expected one of 'joined', 'ready', 'left', 'dropped', 'rejected', got " + shown(s);
  return {};
}

std::string check_int(int64_t v, Lim lim) {
  if (lim == Lim::kU32 && (v < 0 || v > 0xFFFFFFFFLL)) return "expected int in [0, 4294967295]";
  if (lim == Lim::kFrame && v < 0) return "expected int >= 0";
  if (lim == Lim::kShapeDim && (v < 0 || v > (1LL << 31))) return "expected int in [0, 2147483648]";
  if (lim == Lim::kShDegree && (v < 0 || v > kShMaxDegree))
    return "expected int in [0, " + std::to_string(kShMaxDegree) + "]";
  return {};
}

std::string expected(const char* what, const Value& got) {
  return std::string("expected ") + what + ", got " + mp::kind_name(got.kind);
}

// `err` (from reading a nested value) located under `step` (".field", "[3]", "[...]"): the path
// grows from the inside out, as msgspec writes it ("... - at `$.direct[0].endpoint`").
std::string at(const std::string& err, const std::string& step) {
  static const std::string kMark = " - at `$";
  const size_t pos = err.rfind(kMark);
  if (pos == std::string::npos) return err + kMark + step + "`";
  std::string out = err;
  out.insert(pos + kMark.size(), step);
  return out;
}

// --- decoding: Value -> typed fields ---------------------------------------------------------

std::string read(const Value& v, std::string& out, Lim lim) {
  if (v.kind != Value::Kind::kStr) return expected("str", v);
  out = v.s;
  return check_string(out, lim);
}

std::string read(const Value& v, bool& out, Lim) {
  if (v.kind != Value::Kind::kBool) return expected("bool", v);
  out = v.b;
  return {};
}

std::string read(const Value& v, int64_t& out, Lim lim) {
  if (v.kind == Value::Kind::kUInt) return "int out of range (above 2**63-1)";
  if (v.kind != Value::Kind::kInt) return expected("int", v);
  out = v.i;
  return check_int(out, lim);
}

std::string read(const Value& v, double& out, Lim lim) {
  if (v.kind == Value::Kind::kFloat) out = v.f;
  else if (v.kind == Value::Kind::kInt) out = static_cast<double>(v.i);  // msgspec accepts ints for floats
  else if (v.kind == Value::Kind::kUInt) out = static_cast<double>(v.u);
  else return expected("float", v);
  if (lim == Lim::kRate && !(out > 0 && out <= 10000)) return "expected float > 0 and <= 10000";
  return {};
}

std::string read(const Value& v, Scalar& out, Lim) {
  switch (v.kind) {
    case Value::Kind::kBool: out = v.b; return {};
    case Value::Kind::kInt: out = v.i; return {};
    case Value::Kind::kFloat: out = v.f; return {};
    case Value::Kind::kStr: {
      size_t n = 0;
      if (!utf8_codepoints(v.s, n)) return "invalid UTF-8";
      out = v.s;
      return {};
    }
    case Value::Kind::kUInt: return "int out of range (above 2**63-1)";
    default: return expected("bool | int | float | str", v);
  }
}

template <class T>
std::string read(const Value& v, std::optional<T>& out, Lim lim) {
  if (v.kind == Value::Kind::kNil) {
    out.reset();
    return {};
  }
  T tmp{};
  std::string err = read(v, tmp, lim);
  if (err.empty()) out = std::move(tmp);
  return err;
}

template <size_t N>
std::string read(const Value& v, std::array<double, N>& out, Lim lim) {
  if (v.kind != Value::Kind::kArray) return expected("array", v);
  if (v.items.size() != N) return "expected array of length " + std::to_string(N);
  for (size_t k = 0; k < N; ++k) {
    std::string err = read(v.items[k], out[k], lim);
    if (!err.empty()) return at(err, "[" + std::to_string(k) + "]");
  }
  return {};
}

std::string read(const Value& v, ScalarMap& out, Lim key_lim) {
  if (v.kind != Value::Kind::kMap) return expected("object", v);
  out.clear();
  for (const auto& kv : v.map) {
    std::string key;
    std::string err = read(kv.first, key, key_lim);
    if (err.empty()) {
      Scalar value;
      err = read(kv.second, value, Lim::kNone);
      if (err.empty()) {
        out.emplace_back(std::move(key), std::move(value));
        continue;
      }
      return at(err, "[...]");
    }
    return at("key: " + err, "[...]");
  }
  return {};
}

template <class T>
std::string read_struct(const Value& v, T& out);

std::string read(const Value& v, ArraySpec& out, Lim) { return read_struct(v, out); }
std::string read(const Value& v, ClientStatus& out, Lim) { return read_struct(v, out); }
std::string read(const Value& v, DirectStream& out, Lim) { return read_struct(v, out); }

template <class T>
size_t max_items(Lim lim) {
  if (std::is_same<T, ArraySpec>::value) return kMaxPayloadFrames;
  if (std::is_same<T, ClientStatus>::value) return 1024;
  if (std::is_same<T, DirectStream>::value) return kMaxDirectStreams;
  return lim == Lim::kShapeDim ? kMaxArrayDims : SIZE_MAX;
}

template <class T>
std::string read(const Value& v, std::vector<T>& out, Lim lim) {
  if (v.kind != Value::Kind::kArray) return expected("array", v);
  const size_t max = max_items<T>(lim);
  if (v.items.size() > max) return "expected array of length <= " + std::to_string(max);
  out.assign(v.items.size(), T{});
  for (size_t k = 0; k < v.items.size(); ++k) {
    std::string err = read(v.items[k], out[k], lim);
    if (!err.empty()) return at(err, "[" + std::to_string(k) + "]");
  }
  return {};
}

// Assigns one map entry to the field it names.
struct FieldReader {
  const std::string& key;
  const Value& value;
  bool matched = false;
  std::string error;
  template <class M>
  void operator()(const char* name, M& member, Lim lim, bool) {
    if (matched || key != name) return;
    matched = true;
    error = read(value, member, lim);
  }
};

struct MissingFinder {
  const std::vector<std::string>& seen;
  std::string missing;
  template <class M>
  void operator()(const char* name, M&, Lim, bool required) {
    if (!required || !missing.empty()) return;
    for (const auto& s : seen)
      if (s == name) return;
    missing = name;
  }
};

// Reads a map into T's fields; `common` (when given) takes v/frame/t_ns/src and ignores "type".
template <class T>
std::string read_fields(const Value& v, T& out, Common* common) {
  if (v.kind != Value::Kind::kMap) return expected("object", v);
  std::vector<std::string> seen;
  for (const auto& kv : v.map) {
    if (kv.first.kind != Value::Kind::kStr) return "object keys must be str";
    const std::string& key = kv.first.s;
    for (const auto& s : seen)
      if (s == key) return "duplicate field `" + key + "`";
    seen.push_back(key);
    std::string err;
    bool matched = true;
    if (common && key == "type") {
      continue;
    } else if (common && key == "v") {
      err = read(kv.second, common->v, Lim::kNone);
    } else if (common && key == "frame") {
      err = read(kv.second, common->frame, Lim::kFrame);
    } else if (common && key == "t_ns") {
      err = read(kv.second, common->t_ns, Lim::kNone);
    } else if (common && key == "src") {
      err = read(kv.second, common->src, Lim::kName);
    } else {
      FieldReader reader{key, kv.second, false, {}};
      T::each(out, reader);
      matched = reader.matched;
      err = reader.error;
    }
    if (!matched) return "object contains unknown field `" + key + "`";
    if (!err.empty()) return at(err, "." + key);
  }
  if (common && std::find(seen.begin(), seen.end(), "v") == seen.end())
    return "object missing required field `v`";
  MissingFinder finder{seen, {}};
  T::each(out, finder);
  if (!finder.missing.empty()) return "object missing required field `" + finder.missing + "`";
  return {};
}

template <class T>
std::string read_struct(const Value& v, T& out) {
  return read_fields(v, out, nullptr);
}

// --- encoding ----------------------------------------------------------------------------------

struct Buffer {
  std::string bytes;
  void write(const char* data, size_t n) { bytes.append(data, n); }
};
using Packer = msgpack::packer<Buffer>;

void write(Packer& p, const std::string& s) {
  p.pack_str(static_cast<uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}
void write(Packer& p, bool b) { b ? p.pack_true() : p.pack_false(); }
void write(Packer& p, int64_t i) { p.pack_int64(i); }
// msgpack-cxx's pack_double writes integral values as ints; msgspec always writes float64 (0xcb),
// so the float64 is appended as raw bytes (pack_str_body appends without a header).
void write(Packer& p, double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  char raw[9];
  raw[0] = static_cast<char>(0xcb);
  for (int k = 0; k < 8; ++k) raw[1 + k] = static_cast<char>(bits >> (56 - 8 * k));
  p.pack_str_body(raw, 9);
}
void write(Packer& p, const Scalar& s) {
  std::visit([&p](const auto& x) { write(p, x); }, s);
}
template <class T>
void write(Packer& p, const std::optional<T>& o) {
  if (o) write(p, *o);
  else p.pack_nil();
}
template <size_t N>
void write(Packer& p, const std::array<double, N>& a) {
  p.pack_array(N);
  for (double d : a) write(p, d);
}
void write(Packer& p, const ScalarMap& m) {
  p.pack_map(static_cast<uint32_t>(m.size()));
  for (const auto& kv : m) {
    write(p, kv.first);
    write(p, kv.second);
  }
}
template <class T>
void write_struct(Packer& p, const T& s);
void write(Packer& p, const ArraySpec& s) { write_struct(p, s); }
void write(Packer& p, const ClientStatus& s) { write_struct(p, s); }
void write(Packer& p, const DirectStream& s) { write_struct(p, s); }
template <class T>
void write(Packer& p, const std::vector<T>& v) {
  p.pack_array(static_cast<uint32_t>(v.size()));
  for (const auto& x : v) write(p, x);
}

struct FieldCounter {
  uint32_t n = 0;
  template <class M>
  void operator()(const char*, const M&, Lim, bool) { ++n; }
};

struct FieldWriter {
  Packer& p;
  template <class M>
  void operator()(const char* name, const M& member, Lim, bool) {
    write(p, std::string(name));
    write(p, member);
  }
};

template <class T>
void write_struct(Packer& p, const T& s) {
  FieldCounter counter;
  T::each(s, counter);
  p.pack_map(counter.n);
  FieldWriter writer{p};
  T::each(s, writer);
}

template <class T>
std::string encode_header(const T& m) {
  Buffer buf;
  Packer p(buf);
  FieldCounter counter;
  T::each(m, counter);
  p.pack_map(counter.n + 5);
  write(p, std::string("type"));
  write(p, std::string(T::kType));
  write(p, std::string("v"));
  write(p, m.v);
  write(p, std::string("frame"));
  write(p, m.frame);
  write(p, std::string("t_ns"));
  write(p, m.t_ns);
  write(p, std::string("src"));
  write(p, m.src);
  FieldWriter writer{p};
  T::each(m, writer);
  return std::move(buf.bytes);
}

// --- channels ----------------------------------------------------------------------------------

bool allowed_on(size_t index, Channel channel) {
  // Indices of Message's alternatives: control requests 0-5, replies 6-9, broadcasts 10-14, bus 15-26.
  switch (channel) {
    // PROBE (3) and PROBE_REPLY (8) travel both ways: the syncserver probes each client's clock too.
    case Channel::kControlRequest: return index <= 5 || index == 8;
    case Channel::kControlReply: return (index >= 6 && index <= 9) || index == 3;
    case Channel::kBroadcast: return index >= 10 && index <= 14;
    case Channel::kBus: return index >= 15;
    case Channel::kAny: return true;
  }
  return false;
}

template <size_t I = 0>
bool make_by_type(const std::string& type, Message& out, size_t& index) {
  if constexpr (I < std::variant_size_v<Message>) {
    using T = std::variant_alternative_t<I, Message>;
    if (type == T::kType) {
      out.emplace<I>();
      index = I;
      return true;
    }
    return make_by_type<I + 1>(type, out, index);
  } else {
    return false;
  }
}

std::vector<ArraySpec>* specs_of(Message& msg) {
  return std::visit([](auto& m) -> std::vector<ArraySpec>* {
    if constexpr (has_arrays<std::decay_t<decltype(m)>>::value) return &m.arrays;
    else return nullptr;
  }, msg);
}

std::string quoted(const Value* v) {
  if (v == nullptr) return "None";
  if (v->kind == Value::Kind::kStr) return "'" + v->s + "'";
  if (v->kind == Value::Kind::kInt) return std::to_string(v->i);
  return mp::kind_name(v->kind);
}

const Value* lookup(const Value& map, const char* key) {
  for (const auto& kv : map.map)
    if (kv.first.kind == Value::Kind::kStr && kv.first.s == key) return &kv.second;
  return nullptr;
}

// --- the vehicle id table's arrays ----------------------------------------------------------------

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t k = 0; k < shape.size(); ++k) out += (k ? ", " : "") + std::to_string(shape[k]);
  return out + "]";
}

// The names of a "|S<w>" column: no NUL before the padding, at most `limit` characters, valid
// UTF-8, checked in that order over the whole column (as protocol.py does); `out` gets them unpadded.
std::string check_names(const char* msg, const Array& a, const std::string& what, size_t limit,
                        std::vector<std::string>* out) {
  const size_t w = string_width(a.spec.dtype);
  const size_t n = a.bytes.size() / w;
  const char* base = reinterpret_cast<const char*>(a.bytes.data());
  std::vector<std::string_view> names(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view name(base + i * w, w);
    while (!name.empty() && name.back() == '\0') name.remove_suffix(1);
    names[i] = name;
  }
  const auto at = [&](size_t i) { return std::string(msg) + ": " + what + "[" + std::to_string(i) + "] "; };
  for (size_t i = 0; i < n; ++i)
    if (names[i].find('\0') != std::string_view::npos) return at(i) + "contains a NUL byte";
  for (size_t i = 0; i < n && w > limit; ++i) {
    size_t starts = 0;  // bytes that start a character
    for (char c : names[i]) starts += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    if (starts > limit) return at(i) + "is longer than " + std::to_string(limit) + " characters";
  }
  size_t chars = 0;
  for (size_t i = 0; i < n; ++i)
    if (!utf8_codepoints(names[i], chars)) return at(i) + "is not valid UTF-8";
  if (out != nullptr) out->assign(names.begin(), names.end());
  return {};
}

// One column of a table message: its array's name, and its numeric dtype and row width (0: one
// value per row), or an empty dtype for names ("|S<w>") of at most `limit` characters.
struct Column {
  const char* name;
  const char* dtype;
  int64_t width;
  size_t limit;
};

// Exactly `columns`' arrays in that order, each of its dtype and shape, all of one length, with
// valid names (as protocol.py's _check_columns).
std::string check_columns(const char* msg, const Decoded& d, const std::vector<Column>& columns) {
  const std::string m(msg);
  for (const auto& c : columns)
    if (d.find(c.name) == nullptr) return m + ": missing array '" + c.name + "'";
  for (const auto& a : d.arrays) {
    bool known = false;
    for (const auto& c : columns) known = known || a.spec.name == c.name;
    if (!known) return m + ": unexpected array '" + a.spec.name + "'";
  }
  std::string order;
  for (const auto& c : columns) order += (order.empty() ? "" : ", ") + std::string(c.name);
  if (d.arrays.size() != columns.size()) return m + ": arrays must be " + order + " in this order";
  for (size_t k = 0; k < columns.size(); ++k)
    if (d.arrays[k].spec.name != columns[k].name) return m + ": arrays must be " + order + " in this order";
  for (size_t k = 0; k < columns.size(); ++k) {
    const Column& c = columns[k];
    const ArraySpec& spec = d.arrays[k].spec;
    const std::string at = m + ": array '" + c.name + "'";
    if (*c.dtype == '\0' && string_width(spec.dtype) == 0)
      return at + " must be a byte string |S<w>, got " + spec.dtype;
    if (*c.dtype != '\0' && spec.dtype != c.dtype) return at + " must be " + c.dtype + ", got " + spec.dtype;
    const bool shaped = c.width == 0 ? spec.shape.size() == 1 : spec.shape.size() == 2 && spec.shape[1] == c.width;
    if (!shaped)
      return at + (c.width == 0 ? " must be one-dimensional" : " must be of shape (n, " + std::to_string(c.width) + ")") +
             ", got shape " + shape_text(spec.shape);
    const int64_t cells = spec.shape[0] * (c.width == 0 ? 1 : c.width);
    if (spec.shape[0] < 0 || d.arrays[k].bytes.size() != static_cast<size_t>(cells) * dtype_size(spec.dtype))
      return at + ": " + std::to_string(d.arrays[k].bytes.size()) + " bytes do not match its shape";
  }
  const int64_t n = d.arrays[0].spec.shape[0];
  for (const auto& a : d.arrays)
    if (a.spec.shape[0] != n) {
      std::string lengths;
      for (const auto& b : d.arrays) lengths += (lengths.empty() ? "" : ", ") + b.spec.name + " " + std::to_string(b.spec.shape[0]);
      return m + ": array lengths differ: " + lengths;
    }
  for (size_t k = 0; k < columns.size(); ++k)
    if (*columns[k].dtype == '\0') {
      std::string err = check_names(msg, d.arrays[k], columns[k].name, columns[k].limit, nullptr);
      if (!err.empty()) return err;
    }
  return {};
}

const std::vector<Column>& id_columns() {
  static const std::vector<Column> kColumns = {{"handles", "<u4", 0, 0},      {"ids", "", 0, kNameLimit},
                                               {"types", "", 0, kNameLimit},  {"classes", "", 0, kNameLimit},
                                               {"size_cm", "<f4", 3, 0},      {"color", "|u1", 4, 0}};
  return kColumns;
}

const std::vector<Column>& light_columns() {
  static const std::vector<Column> kColumns = {{"ids", "", 0, kNameLimit}, {"states", "", 0, kStateLimit}};
  return kColumns;
}

// A VEHICLE_IDS message's arrays (id_columns). Fills `out` (when given).
std::string check_vehicle_ids(const Decoded& d, VehicleIdTable* out) {
  std::string err = check_columns("VEHICLE_IDS", d, id_columns());
  if (!err.empty()) return err;
  const auto& size = d.arrays[4].bytes;
  for (size_t k = 0; k + 4 <= size.size(); k += 4) {
    float v;
    std::memcpy(&v, size.data() + k, 4);
    if (!std::isfinite(v) || v < 0) return "VEHICLE_IDS: size_cm must be finite and not negative";
  }
  if (out == nullptr) return err;
  const auto n = static_cast<size_t>(d.arrays[0].spec.shape[0]);
  out->handles.resize(n);
  out->size_cm.resize(n);
  out->color.resize(n);
  if (n > 0) {
    std::memcpy(out->handles.data(), d.arrays[0].bytes.data(), 4 * n);  // little-endian targets
    std::memcpy(out->size_cm.data(), d.arrays[4].bytes.data(), 12 * n);
    std::memcpy(out->color.data(), d.arrays[5].bytes.data(), 4 * n);
  }
  check_names("VEHICLE_IDS", d.arrays[1], "ids", kNameLimit, &out->ids);
  check_names("VEHICLE_IDS", d.arrays[2], "types", kNameLimit, &out->types);
  check_names("VEHICLE_IDS", d.arrays[3], "classes", kNameLimit, &out->classes);
  return {};
}

std::string check_traffic_lights(const Decoded& d, TrafficLightTable* out) {
  std::string err = check_columns("TRAFFIC_LIGHTS", d, light_columns());
  if (!err.empty() || out == nullptr) return err;
  check_names("TRAFFIC_LIGHTS", d.arrays[0], "ids", kNameLimit, &out->ids);
  check_names("TRAFFIC_LIGHTS", d.arrays[1], "states", kStateLimit, &out->states);
  return {};
}

// A "|S<w>" column of `names` clipped to `limit` characters; a NUL or invalid UTF-8 is an error.
Result<Array> name_array(const char* msg, const char* what, const std::vector<std::string>& names, size_t limit) {
  std::vector<std::string_view> kept_names;
  kept_names.reserve(names.size());
  size_t width = 1;
  for (const auto& name : names) {
    size_t chars = 0;
    if (name.find('\0') != std::string::npos)
      return Result<Array>::fail(std::string(msg) + ": a name in " + what + " contains a NUL character");
    if (!utf8_codepoints(name, chars))
      return Result<Array>::fail(std::string(msg) + ": a name in " + what + " is not UTF-8");
    std::string_view kept(name);
    if (chars > limit) {  // clip to the first `limit` characters
      size_t end = 0, started = 0;
      for (; end < name.size(); ++end)  // up to the byte that starts character limit + 1
        if ((static_cast<unsigned char>(name[end]) & 0xc0) != 0x80 && started++ == limit) break;
      kept = kept.substr(0, end);
    }
    kept_names.push_back(kept);
    width = std::max(width, kept.size());
  }
  const size_t n = names.size();
  Array a{ArraySpec{what, "|S" + std::to_string(width), {static_cast<int64_t>(n)}}, std::vector<uint8_t>(n * width, 0)};
  for (size_t i = 0; i < n; ++i) std::memcpy(a.bytes.data() + i * width, kept_names[i].data(), kept_names[i].size());
  return a;
}

}  // namespace

// --- public API --------------------------------------------------------------------------------

const Array* Decoded::find(std::string_view name) const {
  for (const auto& a : arrays)
    if (a.spec.name == name) return &a;
  return nullptr;
}

const char* type_name(const Message& msg) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, msg);
}

Common& common(Message& msg) {
  return std::visit([](auto& m) -> Common& { return m; }, msg);
}

const Common& common(const Message& msg) {
  return std::visit([](const auto& m) -> const Common& { return m; }, msg);
}

size_t dtype_size(std::string_view dtype) {
  static const std::pair<const char*, size_t> kTable[] = {
      {"|u1", 1}, {"|i1", 1}, {"<u2", 2}, {"<i2", 2}, {"<u4", 4}, {"<i4", 4},
      {"<u8", 8}, {"<i8", 8}, {"<f2", 2}, {"<f4", 4}, {"<f8", 8}};
  for (const auto& e : kTable)
    if (dtype == e.first) return e.second;
  return string_width(dtype);
}

namespace {
Result<size_t> expected_bytes(const ArraySpec& spec) {
  const size_t item = dtype_size(spec.dtype);
  if (item == 0)
    return Result<size_t>::fail("array '" + spec.name + "': dtype '" + spec.dtype +
                                "' is not allowed (numeric <f2 <f4 <f8 <i2 <i4 <i8 <u2 <u4 <u8 |i1 |u1, or a byte "
                                "string |S1 .. |S" + std::to_string(kMaxStringBytes) + ")");
  if (spec.shape.size() > kMaxArrayDims)
    return Result<size_t>::fail("array '" + spec.name + "': more than " + std::to_string(kMaxArrayDims) + " dimensions");
  uint64_t n = item;
  for (int64_t d : spec.shape) {
    if (d < 0 || d > (1LL << 31)) return Result<size_t>::fail("array '" + spec.name + "': bad dimension " + std::to_string(d));
    n *= static_cast<uint64_t>(d);
    if (n > kMaxMessageBytes) return Result<size_t>::fail("array '" + spec.name + "': larger than a message may be");
  }
  return static_cast<size_t>(n);
}
}  // namespace

Result<Array> make_array(std::string name, std::string dtype, std::vector<int64_t> shape, const void* data,
                         size_t bytes) {
  Array a{ArraySpec{std::move(name), std::move(dtype), std::move(shape)}, {}};
  auto need = expected_bytes(a.spec);
  if (!need) return Result<Array>::fail(need.error());
  if (need.value() != bytes)
    return Result<Array>::fail("array '" + a.spec.name + "': " + std::to_string(bytes) + " bytes for its shape need " +
                               std::to_string(need.value()));
  const auto* p = static_cast<const uint8_t*>(data);
  a.bytes.assign(p, p + bytes);
  return a;
}

Result<std::vector<std::string>> encode(std::string_view topic, Message msg, const std::vector<Array>& arrays) {
  using R = Result<std::vector<std::string>>;
  std::vector<ArraySpec>* specs = specs_of(msg);
  if (!arrays.empty()) {
    if (specs == nullptr) return R::fail(std::string(type_name(msg)) + " does not carry arrays");
    if (arrays.size() > kMaxPayloadFrames) return R::fail("too many arrays: " + std::to_string(arrays.size()));
    specs->clear();
    for (const auto& a : arrays) {
      auto need = expected_bytes(a.spec);
      if (!need) return R::fail(need.error());
      if (need.value() != a.bytes.size())
        return R::fail("array '" + a.spec.name + "': " + std::to_string(a.bytes.size()) + " bytes do not match its shape");
      specs->push_back(a.spec);
    }
  }
  std::vector<std::string> frames;
  frames.reserve(2 + arrays.size());
  frames.emplace_back(topic);
  frames.push_back(std::visit([](const auto& m) { return encode_header(m); }, msg));
  for (const auto& a : arrays) frames.emplace_back(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
  return frames;
}

Result<Decoded> decode(const std::vector<std::string_view>& frames, Channel channel, size_t max_message_bytes) {
  using R = Result<Decoded>;
  if (frames.size() < 2)
    return R::fail("truncated message: " + std::to_string(frames.size()) + " frame(s), need topic and header");
  if (frames.size() > 2 + kMaxPayloadFrames)
    return R::fail("oversized message: " + std::to_string(frames.size()) + " frames (max " +
                   std::to_string(2 + kMaxPayloadFrames) + ")");
  size_t total = 0;
  for (const auto& f : frames) total += f.size();
  if (total > max_message_bytes)
    return R::fail("oversized message: " + std::to_string(total) + " bytes (max " + std::to_string(max_message_bytes) + ")");
  const std::string_view header = frames[1];
  if (header.size() > kMaxHeaderBytes)
    return R::fail("oversized header: " + std::to_string(header.size()) + " bytes (max " +
                   std::to_string(kMaxHeaderBytes) + ")");
  auto parsed = mp::parse(header);
  if (!parsed) return R::fail(parsed.error());
  const Value& root = parsed.value();
  if (root.kind != Value::Kind::kMap) return R::fail("malformed header: expected a map, got " + std::string(mp::kind_name(root.kind)));
  const Value* version = lookup(root, "v");
  if (version && !(version->kind == Value::Kind::kInt && version->i == kProtocolVersion))
    return R::fail("unsupported protocol version " + quoted(version) + " (this side speaks " +
                   std::to_string(kProtocolVersion) + ")");
  const Value* type = lookup(root, "type");
  Decoded out{std::string(frames[0]), Message{}, {}};
  size_t index = 0;
  if (type == nullptr || type->kind != Value::Kind::kStr || !make_by_type(type->s, out.msg, index) ||
      !allowed_on(index, channel))
    return R::fail("unknown or unexpected message type " + quoted(type) + " on this channel");
  std::string err = std::visit([&](auto& m) { return read_fields(root, m, &m); }, out.msg);
  if (!err.empty()) return R::fail("invalid '" + type->s + "' message: " + err);

  std::vector<ArraySpec>* specs = specs_of(out.msg);
  const size_t payload = frames.size() - 2;
  const size_t described = specs ? specs->size() : 0;
  if (described != payload)
    return R::fail(std::string(type_name(out.msg)) + ": header describes " + std::to_string(described) +
                   " array(s) but " + std::to_string(payload) + " payload frame(s) follow");
  for (size_t k = 0; k < payload; ++k) {
    const ArraySpec& spec = (*specs)[k];
    auto need = expected_bytes(spec);
    if (!need) return R::fail(need.error());
    const std::string_view frame = frames[2 + k];
    if (frame.size() != need.value())
      return R::fail("array '" + spec.name + "': " + std::to_string(frame.size()) + " bytes for its shape of " +
                     spec.dtype + " (expected " + std::to_string(need.value()) + "; truncated or corrupt)");
    if (out.find(spec.name)) return R::fail("array '" + spec.name + "' appears twice");
    out.arrays.push_back(Array{spec, std::vector<uint8_t>(frame.begin(), frame.end())});
  }
  if (std::holds_alternative<VehicleIds>(out.msg)) err = check_vehicle_ids(out, nullptr);
  if (std::holds_alternative<TrafficLights>(out.msg)) err = check_traffic_lights(out, nullptr);
  if (!err.empty()) return R::fail(err);
  return out;
}

// --- the vehicle id table ----------------------------------------------------------------------

Result<std::vector<Array>> vehicle_ids_arrays(const std::vector<uint32_t>& handles, const std::vector<std::string>& ids,
                                              const std::vector<std::string>& types,
                                              const std::vector<std::string>& classes,
                                              const std::vector<std::array<float, 3>>& size_cm,
                                              const std::vector<std::array<uint8_t, 4>>& color) {
  using R = Result<std::vector<Array>>;
  const size_t n = handles.size();
  const std::vector<std::string> no_classes(classes.empty() ? n : 0);
  const std::vector<std::array<float, 3>> no_sizes(size_cm.empty() ? n : 0, std::array<float, 3>{});
  const std::vector<std::array<uint8_t, 4>> no_colors(color.empty() ? n : 0, std::array<uint8_t, 4>{});
  const auto& cls = classes.empty() ? no_classes : classes;
  const auto& sizes = size_cm.empty() ? no_sizes : size_cm;
  const auto& colors = color.empty() ? no_colors : color;
  if (ids.size() != n || types.size() != n || cls.size() != n || sizes.size() != n || colors.size() != n)
    return R::fail("VEHICLE_IDS: columns of different lengths: " + std::to_string(n) + " handles, " +
                   std::to_string(ids.size()) + " ids, " + std::to_string(types.size()) + " types, " +
                   std::to_string(cls.size()) + " classes, " + std::to_string(sizes.size()) + " sizes, " +
                   std::to_string(colors.size()) + " colours");
  for (const auto& row : sizes)
    for (float v : row)
      if (!std::isfinite(v)) return R::fail("VEHICLE_IDS: size_cm must be finite numbers");
  std::vector<Array> out;
  const auto len = static_cast<int64_t>(n);
  auto h = make_array("handles", "<u4", {len}, handles.data(), 4 * n);  // little-endian targets
  if (!h) return R::fail(h.error());
  out.push_back(h.take());
  for (const auto& [what, column] : {std::pair<const char*, const std::vector<std::string>*>{"ids", &ids},
                                     {"types", &types}, {"classes", &cls}}) {
    auto a = name_array("VEHICLE_IDS", what, *column, kNameLimit);
    if (!a) return R::fail(a.error());
    out.push_back(a.take());
  }
  auto sz = make_array("size_cm", "<f4", {len, 3}, sizes.data(), 12 * n);
  auto co = make_array("color", "|u1", {len, 4}, colors.data(), 4 * n);
  if (!sz) return R::fail(sz.error());
  if (!co) return R::fail(co.error());
  out.push_back(sz.take());
  out.push_back(co.take());
  return out;
}

Result<std::vector<Array>> traffic_lights_arrays(const std::vector<std::string>& ids,
                                                 const std::vector<std::string>& states) {
  using R = Result<std::vector<Array>>;
  if (ids.size() != states.size())
    return R::fail("TRAFFIC_LIGHTS: " + std::to_string(ids.size()) + " ids and " + std::to_string(states.size()) +
                   " states");
  for (const auto& state : states)
    if (state.size() > kStateLimit)
      return R::fail("TRAFFIC_LIGHTS: a state is longer than " + std::to_string(kStateLimit) + " characters");
  auto a = name_array("TRAFFIC_LIGHTS", "ids", ids, kNameLimit);
  auto b = name_array("TRAFFIC_LIGHTS", "states", states, kStateLimit);
  if (!a) return R::fail(a.error());
  if (!b) return R::fail(b.error());
  std::vector<Array> out;
  out.push_back(a.take());
  out.push_back(b.take());
  return out;
}

Result<TrafficLightTable> parse_traffic_lights(const Decoded& msg) {
  const auto* header = std::get_if<TrafficLights>(&msg.msg);
  if (header == nullptr)
    return Result<TrafficLightTable>::fail(std::string("not a TRAFFIC_LIGHTS message: ") + type_name(msg.msg));
  TrafficLightTable table;
  table.lights_version = header->lights_version;
  table.sim_ns = header->sim_ns;
  const std::string err = check_traffic_lights(msg, &table);
  if (!err.empty()) return Result<TrafficLightTable>::fail(err);
  return table;
}

Result<VehicleIdTable> parse_vehicle_ids(const Decoded& msg) {
  const auto* header = std::get_if<VehicleIds>(&msg.msg);
  if (header == nullptr) return Result<VehicleIdTable>::fail(std::string("not a VEHICLE_IDS message: ") + type_name(msg.msg));
  VehicleIdTable table;
  table.ids_version = header->ids_version;
  const std::string err = check_vehicle_ids(msg, &table);
  if (!err.empty()) return Result<VehicleIdTable>::fail(err);
  return table;
}

}  // namespace cosim
