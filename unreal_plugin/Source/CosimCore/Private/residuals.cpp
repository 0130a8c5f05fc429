#include "cosim/residuals.h"

#include <cmath>
#include <cstring>

namespace cosim {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

Result<ResidualFrame> parse_residuals(const Decoded& msg) {
  using R = Result<ResidualFrame>;
  const auto* header = std::get_if<Residuals>(&msg.msg);
  if (header == nullptr) return R::fail("not a RESIDUALS message");
  const Array* a = msg.find("offsets");
  if (a == nullptr) return R::fail("RESIDUALS for '" + header->asset + "': missing array 'offsets'");
  if (a->spec.dtype != "<f2" || a->spec.shape.size() != 2 || a->spec.shape[1] != 3)
    return R::fail("RESIDUALS for '" + header->asset + "': 'offsets' must be <f2 of shape (n, 3), got " +
                   a->spec.dtype);
  ResidualFrame out{header->asset, header->frame, header->base_frame, header->t_ns, {}};
  const size_t count = a->bytes.size() / 2;
  out.offsets.resize(count);
  for (size_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, a->bytes.data() + 2 * i, 2);
    out.offsets[i] = half_to_float(h);
    if (!std::isfinite(out.offsets[i]))
      return R::fail("RESIDUALS for '" + header->asset + "': non-finite offset at vertex " + std::to_string(i / 3));
  }
  return out;
}

Result<AssetInfo> parse_asset(const Decoded& msg) {
  using R = Result<AssetInfo>;
  const auto* header = std::get_if<Asset>(&msg.msg);
  if (header == nullptr) return R::fail("not an ASSET message");
  const std::string what = "ASSET '" + header->asset + "': ";
  const size_t n = static_cast<size_t>(header->vertices);
  const Array* rest = msg.find("rest");
  const Array* faces = msg.find("faces");
  if (rest == nullptr || faces == nullptr) return R::fail(what + "needs arrays 'rest' and 'faces'");
  if (rest->spec.dtype != "<f4" || rest->spec.shape != std::vector<int64_t>{static_cast<int64_t>(n), 3})
    return R::fail(what + "'rest' must be <f4 of shape (" + std::to_string(n) + ", 3)");
  if (faces->spec.dtype != "<u4" || faces->spec.shape.size() != 2 || faces->spec.shape[1] != 3)
    return R::fail(what + "'faces' must be <u4 of shape (f, 3)");
  AssetInfo out{header->asset, n, header->base_fps, header->base_frames, header->base_sha256, {}, {}};
  out.rest.resize(n * 3);
  std::memcpy(out.rest.data(), rest->bytes.data(), rest->bytes.size());
  for (size_t i = 0; i < out.rest.size(); ++i)
    if (!std::isfinite(out.rest[i])) return R::fail(what + "non-finite rest position at vertex " + std::to_string(i / 3));
  out.faces.resize(faces->bytes.size() / 4);
  std::memcpy(out.faces.data(), faces->bytes.data(), faces->bytes.size());
  for (size_t i = 0; i < out.faces.size(); ++i)
    if (out.faces[i] >= n) return R::fail(what + "face " + std::to_string(i / 3) + " indexes vertex " +
                                          std::to_string(out.faces[i]) + " of " + std::to_string(n));
  return out;
}

Outcome check_mesh(const AssetInfo& asset, size_t mesh_vertices) {
  if (mesh_vertices != asset.vertices)
    return Outcome::fail("asset '" + asset.asset + "' has " + std::to_string(asset.vertices) +
                         " vertices, the mesh has " + std::to_string(mesh_vertices));
  return Outcome::ok();
}

Outcome apply_residuals(const ResidualFrame& frame, const float* base, size_t base_vertices, float scale,
                        float* out) {
  if (frame.vertex_count() != base_vertices)
    return Outcome::fail("residuals for '" + frame.asset + "' have " + std::to_string(frame.vertex_count()) +
                         " vertices, the mesh has " + std::to_string(base_vertices));
  for (size_t i = 0; i < base_vertices * 3; ++i) out[i] = base[i] + scale * frame.offsets[i];
  return Outcome::ok();
}

}  // namespace cosim
