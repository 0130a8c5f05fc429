// Garment/asset residual frames (RESIDUALS: float16 offsets of shape (n, 3)) applied to a mesh's
// vertex buffer: out[i] = base[i] + scale * offset[i]. The caller owns both buffers (no sharing).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "cosim/export.h"
#include "cosim/protocol.h"
#include "cosim/result.h"

namespace cosim {

// IEEE 754 binary16 -> binary32 (subnormals, inf and NaN included).
COSIMCORE_API float half_to_float(uint16_t h);

struct ResidualFrame {
  std::string asset;
  int64_t frame = 0;       // the frame this refinement was produced for
  int64_t base_frame = 0;  // the coarse mesh frame it refines
  int64_t t_ns = 0;
  std::vector<float> offsets;  // n*3, converted from float16
  size_t vertex_count() const { return offsets.size() / 3; }
};

// What a refiner announces about the asset it refines (ASSET on topic refine.asset): the client
// learns the topology and rest shape from the bus, and applies RESIDUALS only to a mesh that
// matches it.
struct AssetInfo {
  std::string asset;
  size_t vertices = 0;
  double base_fps = 0;
  int64_t base_frames = 0;
  std::string base_sha256;      // the base motion the residuals refine
  std::vector<float> rest;      // vertices*3, metres
  std::vector<uint32_t> faces;  // faces*3 vertex indices, each < vertices
};

// An ASSET message's header and arrays, checked: rest "<f4" (vertices, 3) all finite, faces "<u4"
// (f, 3) indexing existing vertices.
COSIMCORE_API Result<AssetInfo> parse_asset(const Decoded& msg);

// Whether residuals for `asset` may be applied to a mesh of `mesh_vertices` vertices.
COSIMCORE_API Outcome check_mesh(const AssetInfo& asset, size_t mesh_vertices);

// The 'offsets' array of a RESIDUALS message (must be <f2 of shape (n, 3), all finite).
COSIMCORE_API Result<ResidualFrame> parse_residuals(const Decoded& msg);

// base and out hold vertex_count*3 floats (x, y, z per vertex); out may alias base.
// `scale` converts the producer's units into the mesh's (e.g. 100 for metres -> Unreal cm).
COSIMCORE_API Outcome apply_residuals(const ResidualFrame& frame, const float* base, size_t base_vertices,
                                      float scale, float* out);

}  // namespace cosim
