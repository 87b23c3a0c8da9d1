// Torch-free unit tests of the KD kernels (run by ctest): razor::vector_exp against std::exp over
// the float range and its edges (NaN, +-Inf, overflow, subnormal results), and razor::cpu::kd_rows
// against a long-double loop of the textbook formulas, with and without a DKD target.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "razor/kd.h"
#include "razor/kd_row_math.h"
#include "razor/vector_exp.h"

#include "expect.h"

namespace {

using razor_test::failures;
using razor_test::lcg;


int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return ia > ib ? static_cast<int64_t>(ia) - ib : static_cast<int64_t>(ib) - ia;
}

void test_float_exp_over_range() {
  // Every 97th bit pattern: ~44M inputs covering all exponents, both signs, NaNs and Infs.
  int64_t worst_normal = 0, worst_subnormal = 0;
  for (uint64_t bits = 0; bits <= 0xffffffffull; bits += 97) {
    float x;
    const uint32_t b = static_cast<uint32_t>(bits);
    std::memcpy(&x, &b, 4);
    const float got = razor::vector_exp(x);
    const float want = static_cast<float>(std::exp(static_cast<double>(x)));
    if (std::isnan(x)) {
      EXPECT(std::isnan(got));
      continue;
    }
    if (std::isinf(want) || want == 0.0f) {
      EXPECT(got == want);
      continue;
    }
    const int64_t d = ulp_distance(got, want);
    if (want < std::numeric_limits<float>::min()) {
      worst_subnormal = d > worst_subnormal ? d : worst_subnormal;
    } else {
      worst_normal = d > worst_normal ? d : worst_normal;
    }
  }
  std::printf("float exp: worst %lld ulp (normal), %lld (subnormal results)\n",
              static_cast<long long>(worst_normal), static_cast<long long>(worst_subnormal));
  EXPECT(worst_normal <= 2);
  EXPECT(worst_subnormal <= 1);
}

void test_float_exp_edges() {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT(std::isnan(razor::vector_exp(std::numeric_limits<float>::quiet_NaN())));
  EXPECT(std::isnan(razor::vector_exp(-std::numeric_limits<float>::quiet_NaN())));
  EXPECT(razor::vector_exp(inf) == inf);
  EXPECT(razor::vector_exp(-inf) == 0.0f);
  EXPECT(razor::vector_exp(0.0f) == 1.0f);
  EXPECT(razor::vector_exp(-0.0f) == 1.0f);
  EXPECT(razor::vector_exp(88.8f) == inf);
  EXPECT(std::isfinite(razor::vector_exp(88.7f)));
  EXPECT(razor::vector_exp(-104.0f) == 0.0f);
  EXPECT(razor::vector_exp(-1e30f) == 0.0f);
  // exp(-100) is a subnormal float (~3.7e-44): produced, not flushed to 0.
  const float sub = razor::vector_exp(-100.0f);
  EXPECT(sub > 0.0f && sub < std::numeric_limits<float>::min());
  EXPECT(ulp_distance(sub, static_cast<float>(std::exp(-100.0))) <= 1);
  EXPECT(razor::vector_exp(std::numeric_limits<float>::denorm_min()) == 1.0f);
}

void test_double_exp() {
  double worst = 0.0;
  for (int i = -745000; i <= 709000; i += 7) {
    const double x = i / 1000.0 + 0.000123;
    const double want = std::exp(x);
    const double got = razor::vector_exp(x);
    if (want < std::numeric_limits<double>::min()) {
      EXPECT(std::fabs(got - want) <= 2 * std::numeric_limits<double>::denorm_min());
      continue;
    }
    const double rel = std::fabs(got - want) / want;
    worst = rel > worst ? rel : worst;
  }
  std::printf("double exp: worst relative error %.3g\n", worst);
  EXPECT(worst < 4.5e-16);  // 2 ulp
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT(std::isnan(razor::vector_exp(std::numeric_limits<double>::quiet_NaN())));
  EXPECT(razor::vector_exp(inf) == inf);
  EXPECT(razor::vector_exp(-inf) == 0.0);
  EXPECT(razor::vector_exp(710.0) == inf);
  EXPECT(razor::vector_exp(-746.0) == 0.0);
  EXPECT(razor::vector_exp(0.0) == 1.0);
}

// The textbook KL(softmax(t/tau) || softmax(s/tau)) of one row, classes `skip` excluded.
long double naive_kl(const std::vector<float>& s, const std::vector<float>& t, double tau,
                     int64_t skip, std::vector<long double>* p_out,
                     std::vector<long double>* q_out) {
  const size_t n = s.size();
  long double zt = 0, zs = 0;
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<int64_t>(i) == skip) continue;
    zt += std::exp(static_cast<long double>(t[i]) / tau);
    zs += std::exp(static_cast<long double>(s[i]) / tau);
  }
  long double kl = 0;
  p_out->assign(n, 0);
  q_out->assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<int64_t>(i) == skip) continue;
    const long double p = std::exp(static_cast<long double>(t[i]) / tau) / zt;
    const long double q = std::exp(static_cast<long double>(s[i]) / tau) / zs;
    (*p_out)[i] = p;
    (*q_out)[i] = q;
    kl += p * std::log(p / q);
  }
  return kl;
}

void test_kd_rows_against_naive(int64_t classes, double tau, bool with_target) {
  const int64_t rows = 5;
  uint32_t seed = static_cast<uint32_t>(classes * 31 + (with_target ? 7 : 0));
  std::vector<float> s(static_cast<size_t>(rows * classes)), t(s.size());
  for (auto& v : s) v = static_cast<float>(lcg(seed) % 20000) / 2000.0f - 5.0f;
  for (auto& v : t) v = static_cast<float>(lcg(seed) % 20000) / 2000.0f - 5.0f;
  std::vector<int64_t> target(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) target[static_cast<size_t>(r)] = (r * 7 + 3) % classes;
  std::vector<float> gs(s.size()), gt(s.size());
  std::vector<double> loss(static_cast<size_t>(rows));
  const double alpha = 0.7, beta = 1.3, scale = 2.0;
  razor::KdCall call{s.data(), t.data(), razor::DType::kFloat32, classes, 1.0 / tau,
                     with_target ? target.data() : nullptr, alpha, beta, scale,
                     gs.data(), gt.data()};
  // Two ranges prove the [begin, end) contract.
  razor::cpu::kd_rows(call, 0, 2, loss.data());
  razor::cpu::kd_rows(call, 2, rows, loss.data());
  for (int64_t r = 0; r < rows; ++r) {
    const size_t off = static_cast<size_t>(r * classes);
    std::vector<float> sr(s.begin() + static_cast<long>(off), s.begin() + static_cast<long>(off + classes));
    std::vector<float> tr(t.begin() + static_cast<long>(off), t.begin() + static_cast<long>(off + classes));
    const int64_t y = with_target ? target[static_cast<size_t>(r)] : -1;
    std::vector<long double> p, q;
    const long double kl = naive_kl(sr, tr, tau, y, &p, &q);
    long double want = beta * kl;
    if (with_target) {
      std::vector<long double> pf, qf;
      naive_kl(sr, tr, tau, -1, &pf, &qf);
      const long double pt = pf[static_cast<size_t>(y)], ps = qf[static_cast<size_t>(y)];
      want += alpha * (pt * std::log(pt / ps) + (1 - pt) * std::log((1 - pt) / (1 - ps)));
    }
    EXPECT(std::fabs(static_cast<double>(loss[static_cast<size_t>(r)] - want)) < 2e-5 * (1 + std::fabs(static_cast<double>(want))));
    if (!with_target) {
      // Student gradient of beta * KL w.r.t. s' is beta (q - p); teacher's p (log p/q - KL).
      for (int64_t i = 0; i < classes; ++i) {
        const size_t k = static_cast<size_t>(i);
        const long double ws = scale * beta * (q[k] - p[k]);
        const long double wt = scale * beta * p[k] * (std::log(p[k] / q[k]) - kl);
        EXPECT(std::fabs(static_cast<double>(gs[off + k] - ws)) < 1e-5);
        EXPECT(std::fabs(static_cast<double>(gt[off + k] - wt)) < 1e-5);
      }
    }
  }
}

void test_kd_rows_edges() {
  const float inf = std::numeric_limits<float>::infinity();
  double loss = -1;
  // One class: exactly zero, whatever the logits.
  {
    float s = 3.25f, t = -1e30f;
    float gs = 1, gt = 1;
    razor::KdCall call{&s, &t, razor::DType::kFloat32, 1, 0.5, nullptr, 0, 1, 1, &gs, &gt};
    razor::cpu::kd_rows(call, 0, 1, &loss);
    EXPECT(loss == 0.0 && gs == 0.0f && gt == 0.0f);
  }
  // A teacher -inf contributes 0; a student -inf where the teacher has mass gives +inf; both -inf
  // gives NaN (F.kl_div's 0 * -inf).
  {
    std::vector<float> s = {1, 2, 3}, t = {-inf, 0, 1};
    razor::KdCall call{s.data(), t.data(), razor::DType::kFloat32, 3, 1.0, nullptr, 0, 1, 1, nullptr, nullptr};
    razor::cpu::kd_rows(call, 0, 1, &loss);
    EXPECT(std::isfinite(loss) && loss > 0);
    s[1] = -inf;
    razor::cpu::kd_rows(call, 0, 1, &loss);
    EXPECT(loss == std::numeric_limits<double>::infinity());
    s = {-inf, 2, 3};
    razor::cpu::kd_rows(call, 0, 1, &loss);
    EXPECT(std::isnan(loss));
    s = {1, std::nanf(""), 3};
    t = {0, 0, 1};
    razor::cpu::kd_rows(call, 0, 1, &loss);
    EXPECT(std::isnan(loss));
  }
  // Logits far beyond exp's range: only differences matter.
  {
    std::vector<float> s = {1e30f, 1e30f}, t = {1e30f, 1e30f};
    razor::KdCall call{s.data(), t.data(), razor::DType::kFloat32, 2, 1.0, nullptr, 0, 1, 1, nullptr, nullptr};
    razor::cpu::kd_rows(call, 0, 1, &loss);
    EXPECT(loss == 0.0);
  }
  // A row whose first block is all -inf and whose maximum comes late (online rescaling).
  {
    const int64_t n = 3000;
    std::vector<float> s(n, 0.0f), t(n, -inf);
    t[2900] = 5.0f;
    t[2950] = 40.0f;
    razor::KdCall call{s.data(), t.data(), razor::DType::kFloat32, n, 1.0, nullptr, 0, 1, 1, nullptr, nullptr};
    razor::cpu::kd_rows(call, 0, 1, &loss);
    // p is almost one-hot on 2950; q uniform: KL = sum p log p + log n.
    const double p1 = std::exp(-35.0) / (1 + std::exp(-35.0));
    const double want = (1 - p1) * std::log(1 - p1) + p1 * std::log(p1) + std::log(static_cast<double>(n));
    EXPECT(std::fabs(loss - want) < 1e-5);
  }
}

}  // namespace

int main() {
  test_float_exp_edges();
  test_float_exp_over_range();
  test_double_exp();
  for (int64_t classes : {1, 2, 31, 33, 600, 1500}) {
    for (double tau : {1.0, 4.0}) {
      test_kd_rows_against_naive(classes, tau, false);
      if (classes > 1) test_kd_rows_against_naive(classes, tau, true);
    }
  }
  test_kd_rows_edges();
  if (failures != 0) {
    std::fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  std::printf("all KD kernel tests passed\n");
  return 0;
}
