// Per-row algebra of the KD kernels, shared by the CPU (csrc/cpu/kd_rows.cpp) and CUDA
// (csrc/cuda/kd.cu) kernels: from one pass of row statistics to the row's loss and the
// coefficients that make its gradient an elementwise expression.
//
// A row holds logits s (student) and t (teacher) over C classes; s' = s / tau, t' = t / tau,
// q = softmax(s'), p = softmax(t'). One pass gathers, over the classes in the softmax,
//   max_t, Z_t = sum exp(t' - max_t), max_s, Z_s likewise, A = sum exp(t' - max_t) (t' - s'),
// and then KL(p || q) = A / Z_t - (lse_t - lse_s), lse = max + log Z.
//
// Plain KD (no target):  row loss = beta * KL, and with g = d(loss)/d(logit'):
//   g_s = beta (q - p),  g_t = p (beta (log p - log q) + k_t),  k_t = -beta KL.
// DKD (Zhao et al., CVPR 2022, arXiv:2203.08679), target class y excluded from the softmaxes
// above (so p, q, KL are the non-target distributions and NCKD = KL):
//   a_t = t'_y - lse_t, a_s = s'_y - lse_s  (the target logit against the rest, exactly:
//   P(y) = sigmoid(a)), TCKD = KL(Bernoulli(sigmoid a_t) || Bernoulli(sigmoid a_s)),
//   row loss = alpha TCKD + beta NCKD; for j != y
//   g_s = beta (q - p) + k_s q,          k_s = -alpha (P_s(y) - P_t(y))
//   g_t = p (beta (log p - log q) + k_t), k_t = -beta KL - alpha P_t(y) (1 - P_t(y)) (a_t - a_s)
//   and at y: g_s = alpha (P_s(y) - P_t(y)),  g_t = alpha P_t(y) (1 - P_t(y)) (a_t - a_s).
// Callers fold the reduction's divisor into alpha and beta, and multiply gradients by tau
// (d/ds = (1/tau) d/ds', and the loss carries tau^2).
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define RAZOR_HOST_DEVICE __host__ __device__ inline
#else
#define RAZOR_HOST_DEVICE inline
#endif

namespace razor {

template <typename Acc>
struct KdRowStats {
  Acc max_t, sum_t, max_s, sum_s, cross;  // cross = A above
  // max_t - max_s rounded as the kernel's element type rounds t' - s' in A, so that a row of one
  // class gives exactly 0.
  Acc max_gap;
};

template <typename Acc>
struct KdRowResult {
  Acc loss;          // alpha TCKD + beta KL (plain KD: beta KL)
  Acc lse_t, lse_s;  // log-sum-exp of t' and s' over the softmax's classes
  Acc k_s, k_t;      // gradient coefficients above
  Acc target_g_s, target_g_t;  // DKD: gradients at the target class
};

// log(1 + exp(x)) without overflow.
template <typename Acc>
RAZOR_HOST_DEVICE Acc kd_softplus(Acc x) {
  return x > Acc(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// p (log p - log q) with torch's convention that a zero p contributes 0 (xlogy(0, .) = 0).
template <typename Acc>
RAZOR_HOST_DEVICE Acc kd_plogp_over_q(Acc p, Acc log_p, Acc log_q) {
  return p > Acc(0) ? p * (log_p - log_q) : Acc(0);
}

// `count` is the number of classes in the softmaxes (C, or C - 1 with a target). A row without
// classes has no loss and no gradient.
template <typename Acc>
RAZOR_HOST_DEVICE KdRowResult<Acc> kd_row_result(const KdRowStats<Acc>& st, long long count,
                                                 bool has_target, Acc target_t, Acc target_s,
                                                 Acc alpha, Acc beta) {
  KdRowResult<Acc> r{};
  if (count > 0) {
    r.lse_t = st.max_t + std::log(st.sum_t);
    r.lse_s = st.max_s + std::log(st.sum_s);
    // KL as A / Z_t - ((max_t - max_s) + (log Z_t - log Z_s)): a row of one class gives 0.
    const Acc kl = st.cross / st.sum_t -
                   (st.max_gap + (std::log(st.sum_t) - std::log(st.sum_s)));
    r.loss = beta * kl;
    r.k_t = -beta * kl;
  } else {
    r.lse_t = r.lse_s = -INFINITY;
  }
  if (!has_target || count == 0) return r;  // DKD with one class: both P(y) are 1, all zero
  const Acc a_t = target_t - r.lse_t;
  const Acc a_s = target_s - r.lse_s;
  const Acc log_pt = -kd_softplus(-a_t), log_1mpt = -kd_softplus(a_t);
  const Acc log_ps = -kd_softplus(-a_s), log_1mps = -kd_softplus(a_s);
  const Acc pt = std::exp(log_pt), ps = std::exp(log_ps);
  const Acc tckd = kd_plogp_over_q(pt, log_pt, log_ps) +
                   kd_plogp_over_q(std::exp(log_1mpt), log_1mpt, log_1mps);
  r.loss += alpha * tckd;
  r.k_s = -alpha * (ps - pt);
  // p (1 - p) via exp(log p + log(1 - p)): exact where 1 - p would round to 0.
  const Acc target_curv = alpha * std::exp(log_pt + log_1mpt) * (a_t - a_s);
  r.k_t -= target_curv;
  r.target_g_s = alpha * (ps - pt);
  r.target_g_t = target_curv;
  return r;
}

}  // namespace razor
