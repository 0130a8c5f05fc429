#include "cosim/sh.h"

#include <cmath>
#include <cstring>

namespace cosim {

namespace {
constexpr double kPi = 3.14159265358979323846;
}

// Orthonormalised associated Legendre functions by the standard three-term recurrence (no
// factorials, stable to high degree), times sqrt(2) cos(m phi) / sin(|m| phi) for m != 0.
void real_sh(double x, double y, double z, int degree, double* out) {
  const double c = std::fmax(-1.0, std::fmin(1.0, z));
  const double s = std::sqrt(std::fmax(0.0, 1.0 - c * c));
  const double phi = std::atan2(y, x);
  std::vector<double> p(static_cast<size_t>(degree + 1) * (degree + 2) / 2);  // p[l*(l+1)/2 + m], m >= 0
  auto at = [](int l, int m) { return static_cast<size_t>(l) * (l + 1) / 2 + m; };
  p[0] = std::sqrt(1.0 / (4 * kPi));
  for (int m = 1; m <= degree; ++m) p[at(m, m)] = std::sqrt((2.0 * m + 1) / (2.0 * m)) * s * p[at(m - 1, m - 1)];
  for (int m = 0; m < degree; ++m) p[at(m + 1, m)] = std::sqrt(2.0 * m + 3) * c * p[at(m, m)];
  for (int m = 0; m <= degree; ++m)
    for (int l = m + 2; l <= degree; ++l) {
      const double a = std::sqrt((4.0 * l * l - 1) / (static_cast<double>(l) * l - static_cast<double>(m) * m));
      const double b = std::sqrt((static_cast<double>(l - 1) * (l - 1) - static_cast<double>(m) * m) /
                                 (4.0 * (l - 1) * (l - 1) - 1));
      p[at(l, m)] = a * (c * p[at(l - 1, m)] - b * p[at(l - 2, m)]);
    }
  for (int l = 0; l <= degree; ++l) {
    const size_t row = static_cast<size_t>(l) * l + l;
    out[row] = p[at(l, 0)];
    for (int m = 1; m <= l; ++m) {
      const double norm = std::sqrt(2.0) * p[at(l, m)];
      out[row + m] = norm * std::cos(m * phi);
      out[row - m] = norm * std::sin(m * phi);
    }
  }
}

namespace {

// A named "<f4" (n, 3) array of finite values, copied out; an empty string when it is one.
std::string vec3_array(const Decoded& msg, const char* name, size_t n, const std::string& what, std::vector<float>* out) {
  const Array* a = msg.find(name);
  if (a == nullptr) return what + "missing array '" + name + "'";
  if (a->spec.dtype != "<f4" || a->spec.shape != std::vector<int64_t>{static_cast<int64_t>(n), 3})
    return what + "'" + name + "' must be <f4 of shape (" + std::to_string(n) + ", 3)";
  out->resize(n * 3);
  std::memcpy(out->data(), a->bytes.data(), a->bytes.size());
  for (size_t i = 0; i < out->size(); ++i)
    if (!std::isfinite((*out)[i])) return what + "non-finite '" + name + "' at vertex " + std::to_string(i / 3);
  return {};
}

}  // namespace

Result<ShAssetInfo> parse_sh_asset(const Decoded& msg) {
  using R = Result<ShAssetInfo>;
  const auto* header = std::get_if<ShAsset>(&msg.msg);
  if (header == nullptr) return R::fail("not an SH_ASSET message");
  const std::string what = "SH_ASSET '" + header->asset + "': ";
  if (header->degree < 0 || header->degree > kShMaxDegree) return R::fail(what + "degree out of range");
  ShAssetInfo out;
  out.asset = header->asset;
  out.vertices = static_cast<size_t>(header->vertices);
  out.degree = static_cast<int>(header->degree);
  const size_t n = out.vertices;
  for (auto [name, vec] : {std::pair<const char*, std::vector<float>*>{"rest", &out.rest}, {"sphere", &out.sphere},
                           {"detail", &out.detail}}) {
    const std::string err = vec3_array(msg, name, n, what, vec);
    if (!err.empty()) return R::fail(err);
  }
  const Array* faces = msg.find("faces");
  if (faces == nullptr || faces->spec.dtype != "<u4" || faces->spec.shape.size() != 2 || faces->spec.shape[1] != 3)
    return R::fail(what + "'faces' must be <u4 of shape (f, 3)");
  out.faces.resize(faces->bytes.size() / 4);
  std::memcpy(out.faces.data(), faces->bytes.data(), faces->bytes.size());
  for (size_t i = 0; i < out.faces.size(); ++i)
    if (out.faces[i] >= n) return R::fail(what + "face " + std::to_string(i / 3) + " indexes vertex " +
                                          std::to_string(out.faces[i]) + " of " + std::to_string(n));
  const size_t k = sh_coefficient_count(out.degree);
  out.basis.resize(n * k);
  std::vector<double> row(k);
  for (size_t i = 0; i < n; ++i) {
    const float* d = &out.sphere[3 * i];
    const double len = std::sqrt(double(d[0]) * d[0] + double(d[1]) * d[1] + double(d[2]) * d[2]);
    if (std::fabs(len - 1.0) > 1e-3)
      return R::fail(what + "'sphere' must hold unit vectors (vertex " + std::to_string(i) + " has length " +
                     std::to_string(len) + ")");
    real_sh(d[0] / len, d[1] / len, d[2] / len, out.degree, row.data());
    for (size_t j = 0; j < k; ++j) out.basis[i * k + j] = static_cast<float>(row[j]);
  }
  return out;
}

Result<ShCoefficients> parse_sh_frame(const Decoded& msg) {
  using R = Result<ShCoefficients>;
  const auto* header = std::get_if<ShFrame>(&msg.msg);
  if (header == nullptr) return R::fail("not an SH_FRAME message");
  const std::string what = "SH_FRAME '" + header->asset + "': ";
  if (header->degree < 0 || header->degree > kShMaxDegree) return R::fail(what + "degree out of range");
  const int degree = static_cast<int>(header->degree);
  const size_t k = sh_coefficient_count(degree);
  const Array* a = msg.find("coeffs");
  if (a == nullptr || a->spec.dtype != "<f4" || a->spec.shape != std::vector<int64_t>{static_cast<int64_t>(k), 3})
    return R::fail(what + "'coeffs' must be <f4 of shape (" + std::to_string(k) + ", 3) for degree " +
                   std::to_string(degree));
  ShCoefficients out{header->asset, header->frame, header->t_ns, degree, std::vector<float>(k * 3)};
  std::memcpy(out.coeffs.data(), a->bytes.data(), a->bytes.size());
  for (size_t i = 0; i < out.coeffs.size(); ++i)
    if (!std::isfinite(out.coeffs[i])) return R::fail(what + "non-finite coefficient " + std::to_string(i / 3));
  return out;
}

Outcome reconstruct_sh(const ShAssetInfo& asset, const ShCoefficients& frame, float scale, float* out,
                       size_t out_vertices) {
  if (frame.asset != asset.asset || frame.degree != asset.degree)
    return Outcome::fail("SH_FRAME of '" + frame.asset + "' (degree " + std::to_string(frame.degree) +
                         ") is not of asset '" + asset.asset + "' (degree " + std::to_string(asset.degree) + ")");
  if (out_vertices != asset.vertices)
    return Outcome::fail("asset '" + asset.asset + "' has " + std::to_string(asset.vertices) +
                         " vertices, the mesh has " + std::to_string(out_vertices));
  const size_t k = sh_coefficient_count(asset.degree);
  for (size_t i = 0; i < asset.vertices; ++i) {
    const float* b = &asset.basis[i * k];
    float acc[3] = {asset.detail[3 * i], asset.detail[3 * i + 1], asset.detail[3 * i + 2]};
    for (size_t j = 0; j < k; ++j)
      for (int c = 0; c < 3; ++c) acc[c] += b[j] * frame.coeffs[3 * j + c];
    for (int c = 0; c < 3; ++c) out[3 * i + c] = scale * acc[c];
  }
  return Outcome::ok();
}

}  // namespace cosim
