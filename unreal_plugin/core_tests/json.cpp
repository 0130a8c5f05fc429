#include "json.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace testjson {

const Json* Json::get(const std::string& key) const {
  for (const auto& kv : obj)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

bool Json::operator==(const Json& o) const {
  if (kind != o.kind) return false;
  switch (kind) {
    case Kind::kNull: return true;
    case Kind::kBool: return b == o.b;
    case Kind::kInt: return i == o.i;
    case Kind::kFloat: return f == o.f;
    case Kind::kStr: return s == o.s;
    case Kind::kArr: return arr == o.arr;
    case Kind::kObj: return obj == o.obj;
  }
  return false;
}

std::string Json::dump() const {
  std::ostringstream out;
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return b ? "true" : "false";
    case Kind::kInt: return std::to_string(i);
    case Kind::kFloat: out.precision(17); out << f << "(f)"; return out.str();
    case Kind::kStr: return "\"" + s + "\"";
    case Kind::kArr: {
      out << "[";
      for (size_t k = 0; k < arr.size(); ++k) out << (k ? ", " : "") << arr[k].dump();
      out << "]";
      return out.str();
    }
    case Kind::kObj: {
      out << "{";
      for (size_t k = 0; k < obj.size(); ++k) out << (k ? ", " : "") << "\"" << obj[k].first << "\": " << obj[k].second.dump();
      out << "}";
      return out.str();
    }
  }
  return "?";
}

namespace {
struct P {
  const std::string& t;
  size_t pos = 0;
  std::string err;
  void ws() { while (pos < t.size() && (t[pos] == ' ' || t[pos] == '\n' || t[pos] == '\r' || t[pos] == '\t')) ++pos; }
  bool fail(const std::string& m) { if (err.empty()) err = m + " at " + std::to_string(pos); return false; }
  bool lit(const char* w) {
    std::string s(w);
    if (t.compare(pos, s.size(), s) != 0) return fail("bad literal");
    pos += s.size();
    return true;
  }
  bool str(std::string& out) {
    if (t[pos] != '"') return fail("expected string");
    ++pos;
    while (pos < t.size() && t[pos] != '"') {
      char c = t[pos++];
      if (c != '\\') { out += c; continue; }
      if (pos >= t.size()) return fail("bad escape");
      char e = t[pos++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          unsigned cp = static_cast<unsigned>(std::strtoul(t.substr(pos, 4).c_str(), nullptr, 16));
          pos += 4;
          if (cp < 0x80) out += static_cast<char>(cp);
          else if (cp < 0x800) { out += static_cast<char>(0xc0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3f)); }
          else { out += static_cast<char>(0xe0 | (cp >> 12)); out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)); out += static_cast<char>(0x80 | (cp & 0x3f)); }
          break;
        }
        default: out += e;
      }
    }
    if (pos >= t.size()) return fail("unterminated string");
    ++pos;
    return true;
  }
  bool val(Json& v) {
    ws();
    if (pos >= t.size()) return fail("unexpected end");
    char c = t[pos];
    if (c == 'n') { v.kind = Json::Kind::kNull; return lit("null"); }
    if (c == 't') { v.kind = Json::Kind::kBool; v.b = true; return lit("true"); }
    if (c == 'f') { v.kind = Json::Kind::kBool; v.b = false; return lit("false"); }
    if (c == '"') { v.kind = Json::Kind::kStr; return str(v.s); }
    if (c == '[') {
      v.kind = Json::Kind::kArr; ++pos; ws();
      if (t[pos] == ']') { ++pos; return true; }
      for (;;) {
        v.arr.emplace_back();
        if (!val(v.arr.back())) return false;
        ws();
        if (t[pos] == ',') { ++pos; continue; }
        if (t[pos] == ']') { ++pos; return true; }
        return fail("expected , or ]");
      }
    }
    if (c == '{') {
      v.kind = Json::Kind::kObj; ++pos; ws();
      if (t[pos] == '}') { ++pos; return true; }
      for (;;) {
        ws();
        std::string key;
        if (!str(key)) return false;
        ws();
        if (t[pos++] != ':') return fail("expected :");
        Json item;
        if (!val(item)) return false;
        v.obj.emplace_back(std::move(key), std::move(item));
        ws();
        if (t[pos] == ',') { ++pos; continue; }
        if (t[pos] == '}') { ++pos; return true; }
        return fail("expected , or }");
      }
    }
    size_t start = pos;
    bool is_float = false;
    while (pos < t.size() && std::string("+-0123456789.eE").find(t[pos]) != std::string::npos) {
      if (t[pos] == '.' || t[pos] == 'e' || t[pos] == 'E') is_float = true;
      ++pos;
    }
    if (start == pos) return fail("unexpected character");
    const std::string num = t.substr(start, pos - start);
    if (is_float) { v.kind = Json::Kind::kFloat; v.f = std::strtod(num.c_str(), nullptr); }
    else { v.kind = Json::Kind::kInt; v.i = std::strtoll(num.c_str(), nullptr, 10); }
    return true;
  }
};
}  // namespace

cosim::Result<Json> parse(const std::string& text) {
  P p{text};
  Json v;
  if (!p.val(v)) return cosim::Result<Json>::fail(p.err);
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace testjson
