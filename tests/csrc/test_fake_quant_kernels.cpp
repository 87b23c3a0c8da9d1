// Torch-free unit tests of the fake-quant CPU kernels (run by ctest): every result is compared
// with a plain scalar loop written from the formulas in razor/fake_quant.h, over layouts with one
// channel, contiguous channels (inner > 1) and one element per channel (inner == 1), element
// ranges split mid-channel, NaN and Inf.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "razor/fake_quant.h"

#include "expect.h"

namespace {

using razor_test::failures;
using razor_test::lcg;


bool same_bits(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

template <typename T>
std::vector<T> random_values(int64_t n, uint32_t seed) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>((static_cast<int32_t>(lcg(seed) >> 8) % 20001) / 2000.0);
  return v;
}

struct Channels {
  std::vector<float> scale, inv, zp;
};

Channels make_channels(int64_t channels, int64_t qmin, int64_t qmax, uint32_t seed) {
  Channels p;
  for (int64_t c = 0; c < channels; ++c) {
    const float s = 0.01f + static_cast<float>(lcg(seed) % 1000) / 20000.0f;
    p.scale.push_back(s);
    p.inv.push_back(1.0f / s);
    p.zp.push_back(static_cast<float>(qmin + static_cast<int64_t>(lcg(seed) % (qmax - qmin + 1))));
  }
  return p;
}

// The scalar definition, per element.
float expected_value(float x, float s, float inv, float zp, float qmin, float qmax, bool to_min,
                     bool& inside) {
  const float q = std::nearbyint(x * inv) + zp;
  inside = q >= qmin && q <= qmax;
  float c;
  if (to_min) {
    c = (q >= qmin && q < 9.2233720368547758e18f) ? std::fmin(q, qmax) : qmin;
  } else {
    c = std::isnan(q) ? qmin : std::fmin(std::fmax(q, qmin), qmax);
  }
  return (c - zp) * s;
}

void test_forward(const razor::ChannelLayout& layout, bool to_min, std::vector<float> x) {
  const int64_t qmin = -8, qmax = 7;
  const Channels p = make_channels(layout.channels, qmin, qmax, 11);
  const int64_t n = layout.numel();
  std::vector<float> out(static_cast<size_t>(n));
  std::vector<uint8_t> mask(static_cast<size_t>(n), 9);
  razor::FakeQuantParams params{p.scale.data(), p.inv.data(), p.zp.data(), qmin, qmax,
                                to_min ? razor::QuantOverflow::kToQuantMin
                                       : razor::QuantOverflow::kClampAsFloat,
                                false};
  // Three ranges, split mid-channel, prove the [begin, end) contract.
  const int64_t a = n / 3, b = 2 * n / 3 + 1 < n ? 2 * n / 3 + 1 : n;
  razor::cpu::fake_quantize_forward(x.data(), out.data(), mask.data(), razor::DType::kFloat32,
                                    params, layout, 0, a);
  razor::cpu::fake_quantize_forward(x.data(), out.data(), mask.data(), razor::DType::kFloat32,
                                    params, layout, a, b);
  razor::cpu::fake_quantize_forward(x.data(), out.data(), mask.data(), razor::DType::kFloat32,
                                    params, layout, b, n);
  for (int64_t e = 0; e < n; ++e) {
    const int64_t c = (e / layout.inner) % layout.channels;
    bool inside = false;
    const float want = expected_value(x[e], p.scale[c], p.inv[c], p.zp[c], float(qmin),
                                      float(qmax), to_min, inside);
    EXPECT(same_bits(out[e], want));
    EXPECT(mask[e] == (inside ? 1 : 0));
  }
  // Without a mask the values are the same and no mask byte is written.
  std::vector<float> out2(static_cast<size_t>(n));
  razor::cpu::fake_quantize_forward(x.data(), out2.data(), nullptr, razor::DType::kFloat32,
                                    params, layout, 0, n);
  for (int64_t e = 0; e < n; ++e) EXPECT(same_bits(out[e], out2[e]));
}

void test_double_float_product() {
  // float64 per-tensor follows torch: (q - zp) * scale rounded to float.
  const double scale = 0.1f, inv = 1.0f / 0.1f, zp = 0;
  razor::FakeQuantParams params{&scale, &inv, &zp, -128, 127,
                                razor::QuantOverflow::kClampAsFloat, true};
  const double x = 0.3;
  double out = 0;
  razor::cpu::fake_quantize_forward(&x, &out, nullptr, razor::DType::kFloat64, params,
                                    razor::ChannelLayout{1, 1, 1}, 0, 1);
  EXPECT(out == static_cast<double>(3.0f * 0.1f));
  params.float_product = false;
  razor::cpu::fake_quantize_forward(&x, &out, nullptr, razor::DType::kFloat64, params,
                                    razor::ChannelLayout{1, 1, 1}, 0, 1);
  EXPECT(out == 3.0 * static_cast<double>(0.1f));
}

void test_backward_mask() {
  const int64_t n = 77;
  std::vector<float> grad = random_values<float>(n, 5), out(static_cast<size_t>(n));
  std::vector<uint8_t> mask(static_cast<size_t>(n));
  for (int64_t e = 0; e < n; ++e) mask[e] = static_cast<uint8_t>(e % 3 == 0);
  grad[3] = std::numeric_limits<float>::quiet_NaN();
  razor::cpu::fake_quantize_backward(grad.data(), mask.data(), out.data(), razor::DType::kFloat32,
                                     0, n);
  for (int64_t e = 0; e < n; ++e) EXPECT(same_bits(out[e], grad[e] * (mask[e] ? 1.0f : 0.0f)));
}

void test_lsq(const razor::ChannelLayout& layout) {
  const int64_t qmin = 0, qmax = 15;
  const Channels p = make_channels(layout.channels, qmin, qmax, 3);
  const int64_t n = layout.numel();
  std::vector<float> x = random_values<float>(n, 17), g = random_values<float>(n, 19);
  x[0] = std::numeric_limits<float>::infinity();  // counts as below quant_min, as in torch
  std::vector<float> gx(static_cast<size_t>(n));
  const float gf = 0.5f;
  razor::LsqParams params{p.scale.data(), p.inv.data(), p.zp.data(), qmin, qmax, gf};
  std::vector<double> acc_s(static_cast<size_t>(layout.channels), 0.0),
      acc_z(static_cast<size_t>(layout.channels), 0.0);
  const int64_t half = n / 2 + 1;
  razor::cpu::lsq_backward(x.data(), g.data(), gx.data(), razor::DType::kFloat32, params, layout,
                           0, half, acc_s.data(), acc_z.data());
  razor::cpu::lsq_backward(x.data(), g.data(), gx.data(), razor::DType::kFloat32, params, layout,
                           half, n, acc_s.data(), acc_z.data());
  std::vector<double> want_s(acc_s.size(), 0.0), want_z(acc_z.size(), 0.0), bound(acc_s.size(), 0.0);
  for (int64_t e = 0; e < n; ++e) {
    const int64_t c = (e / layout.inner) % layout.channels;
    const float s = p.scale[c], inv = p.inv[c], z = p.zp[c];
    const float q = std::nearbyint(z + x[e] * inv);
    const bool below = !(q >= qmin) || !(q < 9.2233720368547758e18f);
    const bool above = !below && q > qmax;
    const bool inside = !below && !above;
    EXPECT(same_bits(gx[e], g[e] * (inside ? 1.0f : 0.0f)));
    float ds, dz;
    if (inside) {
      ds = g[e] * ((q - z) * s - x[e]) * inv * gf;
      dz = 0.0f;
    } else {
      ds = g[e] * ((above ? float(qmax) : float(qmin)) - z) * gf;
      dz = -g[e] * s * gf;
    }
    want_s[c] += ds;
    want_z[c] += dz;
    bound[c] += std::fabs(ds) + std::fabs(dz);
  }
  for (size_t c = 0; c < acc_s.size(); ++c) {
    EXPECT(std::fabs(acc_s[c] - want_s[c]) <= 1e-5 * bound[c] + 1e-6);
    EXPECT(std::fabs(acc_z[c] - want_z[c]) <= 1e-5 * bound[c] + 1e-6);
  }
}

void test_min_max(const razor::ChannelLayout& layout) {
  const int64_t n = layout.numel();
  std::vector<float> x = random_values<float>(n, 23);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> mins(static_cast<size_t>(layout.channels), inf),
      maxs(static_cast<size_t>(layout.channels), -inf);
  std::vector<uint8_t> bad(static_cast<size_t>(layout.channels), 0);
  x[static_cast<size_t>(n - 1)] = std::numeric_limits<float>::quiet_NaN();
  razor::cpu::channel_min_max(x.data(), razor::DType::kFloat32, layout, 0, n / 2, mins.data(),
                              maxs.data(), bad.data());
  razor::cpu::channel_min_max(x.data(), razor::DType::kFloat32, layout, n / 2, n, mins.data(),
                              maxs.data(), bad.data());
  std::vector<double> want_min(mins.size(), inf), want_max(maxs.size(), -inf);
  for (int64_t e = 0; e < n; ++e) {
    const size_t c = static_cast<size_t>((e / layout.inner) % layout.channels);
    if (std::isnan(x[e])) continue;
    want_min[c] = std::fmin(want_min[c], x[e]);
    want_max[c] = std::fmax(want_max[c], x[e]);
  }
  const size_t nan_channel = static_cast<size_t>(((n - 1) / layout.inner) % layout.channels);
  for (size_t c = 0; c < mins.size(); ++c) {
    EXPECT(mins[c] == want_min[c]);
    EXPECT(maxs[c] == want_max[c]);
    EXPECT(bad[c] == (c == nan_channel ? 1 : 0));
  }
}

}  // namespace

int main() {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const razor::ChannelLayout layouts[] = {
      {1, 1, 1001},  // per tensor, not a multiple of any vector width
      {3, 5, 37},    // contiguous channels (NCHW)
      {41, 7, 1},    // one element per channel (channels-last)
      {2, 3, 2},     // short rows
  };
  for (const auto& layout : layouts) {
    for (bool to_min : {false, true}) {
      std::vector<float> x = random_values<float>(layout.numel(), 29);
      x[0] = nan;
      x[1] = inf;
      x[2] = -inf;
      x[3] = 1e30f;
      test_forward(layout, to_min, x);
    }
    test_lsq(layout);
    test_min_max(layout);
  }
  test_double_float_product();
  test_backward_mask();
  if (failures) {
    std::fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  std::printf("fake quant kernels: all passed\n");
  return 0;
}
