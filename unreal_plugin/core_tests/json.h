// A small JSON reader for the tests (tests/golden/manifest.json); not part of the core.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cosim/result.h"

namespace testjson {

struct Json {
  enum class Kind { kNull, kBool, kInt, kFloat, kStr, kArr, kObj };
  Kind kind = Kind::kNull;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;
  const Json* get(const std::string& key) const;
  bool operator==(const Json& o) const;
  bool operator!=(const Json& o) const { return !(*this == o); }
  std::string dump() const;
};

cosim::Result<Json> parse(const std::string& text);
std::string read_file(const std::string& path);

}  // namespace testjson
