// Time in the core is always int64 nanoseconds (docs/architecture.md, "Clocks and time"); never float milliseconds.
#pragma once
#include <cstdint>

#include "cosim/export.h"

namespace cosim {

// This process's monotonic clock (CLOCK_MONOTONIC on Linux, QPC on Windows) in ns.
COSIMCORE_API int64_t mono_now_ns();

// Floor division (Python's //), which C++'s truncating '/' is not for negative numerators.
constexpr int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace cosim
