// A strict, exception-free MessagePack reader for headers (at most 64 KiB): hostile input is
// rejected with a message (truncated data, absurd lengths, nesting too deep, trailing bytes, ext).
// msgpack-cxx's own parser allocates through a zone that throws, so it cannot build under
// -fno-exceptions; the encoder side does use msgpack-cxx's packer (protocol.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cosim/result.h"

namespace cosim {
namespace mp {

struct Value {
  enum class Kind : uint8_t { kNil, kBool, kInt, kUInt, kFloat, kStr, kBin, kArray, kMap };
  Kind kind = Kind::kNil;
  bool b = false;
  int64_t i = 0;   // kInt: any value that fits int64
  uint64_t u = 0;  // kUInt: only values above INT64_MAX
  double f = 0;
  std::string s;   // kStr, kBin
  std::vector<Value> items;
  std::vector<std::pair<Value, Value>> map;
};

const char* kind_name(Value::Kind kind);

Result<Value> parse(std::string_view bytes, int max_depth = 16);

}  // namespace mp
}  // namespace cosim
