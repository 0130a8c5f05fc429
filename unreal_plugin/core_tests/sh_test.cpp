// SH assets in the core (cosim/sh.h) held against scipy: tests/golden/sh_basis.json holds the real
// harmonics that cosim/shbasis.py gets from scipy.special.sph_harm_y at fixed unit vectors, and the
// mesh Python builds from the golden SH_FRAME on the golden SH_ASSET.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cosim/protocol.h"
#include "cosim/sh.h"
#include "json.h"

namespace {

const std::string kDir = COSIM_GOLDEN_DIR;

testjson::Json load(const std::string& name) {
  auto j = testjson::parse(testjson::read_file(kDir + "/" + name));
  EXPECT_TRUE(j) << j.error();
  return j ? j.take() : testjson::Json{};
}

double num(const testjson::Json& j) { return j.kind == testjson::Json::Kind::kInt ? double(j.i) : j.f; }

cosim::Decoded golden_message(const std::string& name) {
  const std::string data = testjson::read_file(kDir + "/" + name + ".bin");
  std::vector<std::string_view> frames;
  uint32_t n;
  std::memcpy(&n, data.data(), 4);
  size_t pos = 4;
  for (uint32_t k = 0; k < n; ++k) {
    uint32_t len;
    std::memcpy(&len, data.data() + pos, 4);
    frames.emplace_back(data.data() + pos + 4, len);
    pos += 4 + len;
  }
  auto d = cosim::decode(frames, cosim::Channel::kBus);
  EXPECT_TRUE(d) << d.error();
  return d.take();
}

TEST(Sh, BasisMatchesScipyAtEveryGoldenDirection) {
  const auto g = load("sh_basis.json");
  const int degree = static_cast<int>(g.get("degree")->i);
  const auto& dirs = g.get("directions")->arr;
  const auto& values = g.get("values")->arr;
  ASSERT_EQ(dirs.size(), values.size());
  ASSERT_GE(dirs.size(), 20u);
  std::vector<double> out(cosim::sh_coefficient_count(degree));
  for (size_t i = 0; i < dirs.size(); ++i) {
    cosim::real_sh(num(dirs[i].arr[0]), num(dirs[i].arr[1]), num(dirs[i].arr[2]), degree, out.data());
    ASSERT_EQ(values[i].arr.size(), out.size());
    for (size_t k = 0; k < out.size(); ++k)
      EXPECT_NEAR(out[k], num(values[i].arr[k]), 1e-12) << "direction " << i << ", column " << k;
  }
}

TEST(Sh, HighDegreeStaysOrthonormalOnAQuadrature) {
  // Gauss-Legendre in cos(theta) x uniform phi integrates products of degree <= 2*24 exactly.
  const int degree = 24, nt = 26, np = 52;
  std::vector<double> xs(nt), ws(nt);
  for (int i = 0; i < nt; ++i) {  // Newton on P_nt for the Gauss-Legendre nodes
    double x = std::cos(M_PI * (i + 0.75) / (nt + 0.5)), dp = 0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = x;
      for (int k = 2; k <= nt; ++k) { const double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k; p0 = p1; p1 = p2; }
      dp = nt * (x * p1 - p0) / (x * x - 1);
      x -= p1 / dp;
    }
    xs[i] = x;
    ws[i] = 2 / ((1 - x * x) * dp * dp);
  }
  const size_t k = cosim::sh_coefficient_count(degree);
  std::vector<double> gram(k * k, 0.0), y(k);
  for (int i = 0; i < nt; ++i)
    for (int j = 0; j < np; ++j) {
      const double phi = 2 * M_PI * j / np, s = std::sqrt(1 - xs[i] * xs[i]);
      cosim::real_sh(s * std::cos(phi), s * std::sin(phi), xs[i], degree, y.data());
      const double w = ws[i] * 2 * M_PI / np;
      for (size_t a = 0; a < k; ++a)
        for (size_t b = 0; b < k; ++b) gram[a * k + b] += w * y[a] * y[b];
    }
  double worst = 0;
  for (size_t a = 0; a < k; ++a)
    for (size_t b = 0; b < k; ++b) worst = std::fmax(worst, std::fabs(gram[a * k + b] - (a == b ? 1.0 : 0.0)));
  EXPECT_LT(worst, 1e-10);
}

TEST(Sh, GoldenFrameOnGoldenAssetGivesPythonsMesh) {
  auto asset = cosim::parse_sh_asset(golden_message("sh_asset"));
  ASSERT_TRUE(asset) << asset.error();
  auto frame = cosim::parse_sh_frame(golden_message("sh_frame"));
  ASSERT_TRUE(frame) << frame.error();
  const auto want = load("sh_basis.json").get("sh_frame_on_sh_asset")->arr;
  ASSERT_EQ(want.size(), asset.value().vertices);
  std::vector<float> mesh(3 * want.size());
  ASSERT_TRUE(cosim::reconstruct_sh(asset.value(), frame.value(), 1.0f, mesh.data(), want.size()));
  for (size_t i = 0; i < want.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(mesh[3 * i + c], num(want[i].arr[c]), 1e-6) << "vertex " << i;
  std::vector<float> cm(mesh.size());
  ASSERT_TRUE(cosim::reconstruct_sh(asset.value(), frame.value(), 100.0f, cm.data(), want.size()));
  EXPECT_NEAR(cm[0], 100 * mesh[0], 1e-4);
  auto wrong = cosim::reconstruct_sh(asset.value(), frame.value(), 1.0f, mesh.data(), want.size() - 1);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("has 6 vertices, the mesh has 5"), std::string::npos);
}

cosim::Decoded with_array(cosim::Decoded d, const std::string& name, const std::string& dtype,
                          std::vector<int64_t> shape, const std::vector<float>& values) {
  for (auto& a : d.arrays)
    if (a.spec.name == name) {
      auto made = cosim::make_array(name, dtype, std::move(shape), values.data(), values.size() * 4);
      EXPECT_TRUE(made) << made.error();
      a = made.take();
    }
  return d;
}

TEST(Sh, HostileFramesAndAssetsAreRefusedByName) {
  const cosim::Decoded frame = golden_message("sh_frame");
  auto short_coeffs = cosim::parse_sh_frame(with_array(frame, "coeffs", "<f4", {4, 3}, std::vector<float>(12)));
  ASSERT_FALSE(short_coeffs);
  EXPECT_NE(short_coeffs.error().find("'coeffs' must be <f4 of shape (9, 3) for degree 2"), std::string::npos);
  std::vector<float> nan(27, 0.0f);
  nan[5] = std::nanf("");
  auto bad = cosim::parse_sh_frame(with_array(frame, "coeffs", "<f4", {9, 3}, nan));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("non-finite coefficient 1"), std::string::npos);

  const cosim::Decoded asset = golden_message("sh_asset");
  std::vector<float> long_dirs(18, 2.0f);
  auto not_unit = cosim::parse_sh_asset(with_array(asset, "sphere", "<f4", {6, 3}, long_dirs));
  ASSERT_FALSE(not_unit);
  EXPECT_NE(not_unit.error().find("'sphere' must hold unit vectors"), std::string::npos);
  auto missing = cosim::parse_sh_asset(with_array(asset, "detail", "<f4", {5, 3}, std::vector<float>(15)));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("'detail' must be <f4 of shape (6, 3)"), std::string::npos);

  auto a = cosim::parse_sh_asset(asset);
  ASSERT_TRUE(a);
  cosim::ShCoefficients other = cosim::parse_sh_frame(frame).take();
  other.degree = 3;
  auto mismatch = cosim::reconstruct_sh(a.value(), other, 1.0f, std::vector<float>(18).data(), 6);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().find("is not of asset 'head' (degree 2)"), std::string::npos);
}

}  // namespace
