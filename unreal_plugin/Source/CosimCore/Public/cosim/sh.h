// SH assets (SH_ASSET, SH_FRAME; docs/protocol.md "SH assets"): a closed asset whose shape travels
// as spherical-harmonic coefficients. The client evaluates the real orthonormal harmonics at each
// vertex's place on the sphere once (parse_sh_asset) and builds each frame's mesh as
// basis @ coeffs + detail (reconstruct_sh). The harmonics are those of cosim/shbasis.py, held
// against scipy's values in tests/golden/sh_basis.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cosim/export.h"
#include "cosim/protocol.h"
#include "cosim/result.h"

namespace cosim {

constexpr size_t sh_coefficient_count(int degree) { return static_cast<size_t>(degree + 1) * (degree + 1); }

// The real harmonics up to `degree` at the unit vector (x, y, z): out[l*l + l + m] for l = 0..degree,
// m = -l..l, orthonormal over the sphere, no Condon-Shortley phase (Y_1,1 = sqrt(3 / 4 pi) x).
// out holds sh_coefficient_count(degree) doubles; degree must be in [0, kShMaxDegree].
COSIMCORE_API void real_sh(double x, double y, double z, int degree, double* out);

struct ShAssetInfo {
  std::string asset;
  size_t vertices = 0;
  int degree = 0;
  std::vector<float> rest;      // vertices*3, metres
  std::vector<uint32_t> faces;  // faces*3, each < vertices
  std::vector<float> sphere;    // vertices*3 unit vectors
  std::vector<float> detail;    // vertices*3, metres: the residual field at each vertex
  std::vector<float> basis;     // vertices * sh_coefficient_count(degree), row per vertex
};

struct ShCoefficients {
  std::string asset;
  int64_t frame = 0;
  int64_t t_ns = 0;
  int degree = 0;
  std::vector<float> coeffs;  // sh_coefficient_count(degree) * 3: x, y, z per harmonic
};

// An SH_ASSET's arrays, checked (rest, sphere, detail finite "<f4" (n, 3), sphere of unit vectors,
// faces "<u4" (f, 3) indexing them), with the basis evaluated at the sphere.
COSIMCORE_API Result<ShAssetInfo> parse_sh_asset(const Decoded& msg);

// An SH_FRAME's coefficients, checked: finite "<f4" ((degree+1)^2, 3).
COSIMCORE_API Result<ShCoefficients> parse_sh_frame(const Decoded& msg);

// out (out_vertices*3 floats) = scale * (basis @ coeffs + detail); the frame must be of the asset
// (same name and degree) and out_vertices its vertex count. `scale`: e.g. 100 for metres -> cm.
COSIMCORE_API Outcome reconstruct_sh(const ShAssetInfo& asset, const ShCoefficients& frame, float scale, float* out,
                                     size_t out_vertices);

}  // namespace cosim
