// CPU kernel of the KD reductions (razor/kd.h). Per row: one read gathers the softmax statistics
// of teacher and student together, with an online max per block of kBlock classes (a new block
// maximum rescales the running sums once, not per element); a second read, while the row is still
// in cache, writes the gradients, so backward is only a scale by the incoming gradient.
// exp is razor::vector_exp, so the per-element loops vectorize in every RAZOR_EXP_VERSIONS version.
// Each element's two exps (teacher, student) are computed once: the statistics pass stores them
// (in the gradient buffers, or a scratch row) and the gradient pass rescales them per block.
// Without this, GCC keeps the clamps and selects of vector_exp as branches (a float compare may
// raise an FP exception flag) and vectorizes them only with AVX-512 masks; AVX2 and SSE2 clones
// would run scalar. Nothing here reads FP exception flags; NaN/Inf semantics are unchanged.
#pragma GCC optimize("no-trapping-math")

#include <cmath>
#include <limits>
#include <vector>

#include "razor/kd.h"
#include "razor/kd_row_math.h"
#include "razor/simd_dispatch.h"
#include "razor/vector_exp.h"

namespace razor {
namespace cpu {

namespace {

// Classes per block: a new maximum costs one rescale per block; float lanes are flushed into
// double once per block so long rows keep double-like accuracy.
constexpr int64_t kBlock = 512;

template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  static constexpr int64_t kCount = 16;
};
template <>
struct Lanes<double> {
  static constexpr int64_t kCount = 16;
};

// Largest element; NaN is skipped here and propagates through its own exp instead.
template <typename T>
RAZOR_INLINE T block_max(const T* x, int64_t n) {
  constexpr int64_t L = Lanes<T>::kCount;
  T lanes[L];
  for (int64_t l = 0; l < L; ++l) lanes[l] = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    for (int64_t l = 0; l < L; ++l) lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l];
  }
  for (; i < n; ++i) lanes[0] = x[i] > lanes[0] ? x[i] : lanes[0];
  T m = lanes[0];
  for (int64_t l = 1; l < L; ++l) m = lanes[l] > m ? lanes[l] : m;
  return m;
}

// One statistics term: e_t (t' - s'), with torch's 0 * log q convention where e_t is 0 (a zero
// teacher probability contributes 0, or NaN where log q is infinite, as F.kl_div gives).
template <typename T>
RAZOR_INLINE T cross_term(T et, T tt, T ss) {
  return et > T(0) ? et * (tt - ss) : ss * T(0);
}

// Rows of up to kMaxBlocks blocks keep each block's reference max, so the gradient pass can reuse
// the exps the statistics pass stored in the gradient buffers (exp(x - ref) * exp(ref - lse))
// instead of computing them again; longer rows recompute them.
constexpr int64_t kMaxBlocks = 256;

// Per row: the reference max each block's exps were taken against (-inf: the row was all -inf
// so far and its exps, taken against 0, are all 0).
template <typename T>
struct BlockRefs {
  T t[kMaxBlocks];
  T s[kMaxBlocks];
  int64_t count = 0;
};

// Adds classes [lo, hi) of one row into the running statistics. kStoreS / kStoreT: also write
// each exp(x' - ref) into gs / gt and the block's refs into `refs`.
template <typename T, bool kStoreS, bool kStoreT>
RAZOR_INLINE void gather_stats(const T* s, const T* t, int64_t lo, int64_t hi, T inv_tau,
                               KdRowStats<double>& st, T* gs, T* gt, BlockRefs<T>& refs) {
  constexpr int64_t L = Lanes<T>::kCount;
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  for (int64_t b = lo; b < hi; b += kBlock) {
    const int64_t be = b + kBlock < hi ? b + kBlock : hi;
    const double mt_b = static_cast<double>(block_max(t + b, be - b) * inv_tau);
    const double ms_b = static_cast<double>(block_max(s + b, be - b) * inv_tau);
    if (mt_b > st.max_t) {
      const double f = std::exp(st.max_t - mt_b);
      st.sum_t *= f;
      st.cross *= f;
      st.max_t = mt_b;
    }
    if (ms_b > st.max_s) {
      st.sum_s *= std::exp(st.max_s - ms_b);
      st.max_s = ms_b;
    }
    if (kStoreS || kStoreT) {
      refs.t[refs.count] = static_cast<T>(st.max_t);
      refs.s[refs.count] = static_cast<T>(st.max_s);
      ++refs.count;
    }
    // A row that is -inf so far is shifted by 0: its exps are 0 instead of exp(-inf + inf).
    const T ref_t = static_cast<T>(st.max_t == kNegInf ? 0.0 : st.max_t);
    const T ref_s = static_cast<T>(st.max_s == kNegInf ? 0.0 : st.max_s);
    T zt[L] = {}, zs[L] = {}, cr[L] = {};
    int64_t i = b;
    for (; i + L <= be; i += L) {
      for (int64_t l = 0; l < L; ++l) {
        const T tt = t[i + l] * inv_tau;
        const T ss = s[i + l] * inv_tau;
        const T et = vector_exp(tt - ref_t);
        const T es = vector_exp(ss - ref_s);
        if (kStoreS) gs[i + l] = es;
        if (kStoreT) gt[i + l] = et;
        zt[l] += et;
        zs[l] += es;
        cr[l] += cross_term(et, tt, ss);
      }
    }
    for (; i < be; ++i) {
      const T tt = t[i] * inv_tau;
      const T ss = s[i] * inv_tau;
      const T et = vector_exp(tt - ref_t);
      const T es = vector_exp(ss - ref_s);
      if (kStoreS) gs[i] = es;
      if (kStoreT) gt[i] = et;
      zt[0] += et;
      zs[0] += es;
      cr[0] += cross_term(et, tt, ss);
    }
    T sum_zt = 0, sum_zs = 0, sum_cr = 0;
    for (int64_t l = 0; l < L; ++l) {
      sum_zt += zt[l];
      sum_zs += zs[l];
      sum_cr += cr[l];
    }
    st.sum_t += static_cast<double>(sum_zt);
    st.sum_s += static_cast<double>(sum_zs);
    st.cross += static_cast<double>(sum_cr);
  }
}

// exp(ref - lse): turns an exp stored against a block's ref into a probability.
template <typename T>
RAZOR_INLINE T block_rescale(T ref, T lse) {
  return ref == -std::numeric_limits<T>::infinity() ? T(0) : static_cast<T>(std::exp(ref - lse));
}

// Gradients of classes [lo, hi): g_s = scale (beta (q - p) + k_s q),
// g_t = scale p (beta (log p - log q) + k_t), 0 where p is 0. kStored: gs / gt hold the exps of
// the statistics pass, against the refs of each block: the student's in gs, the teacher's in `et`
// (gt, or a scratch row when the teacher's gradient is not asked for).
template <typename T, bool kStudent, bool kTeacher, bool kStored>
RAZOR_INLINE void write_grads(const T* s, const T* t, int64_t lo, int64_t hi, T inv_tau, T lse_t,
                              T lse_s, T beta, T k_s, T k_t, T scale, T* gs, T* gt,
                              const T* et, const BlockRefs<T>& refs, int64_t& block) {
  for (int64_t b = lo; b < hi; b += kBlock, ++block) {
    const int64_t be = b + kBlock < hi ? b + kBlock : hi;
    const T cs = kStored && kStudent ? block_rescale(refs.s[block], lse_s) : T(0);
    const T ct = kStored ? block_rescale(refs.t[block], lse_t) : T(0);
    for (int64_t i = b; i < be; ++i) {
      const T lp = t[i] * inv_tau - lse_t;
      const T lq = s[i] * inv_tau - lse_s;
      const T p = kStored ? et[i] * ct : vector_exp(lp);
      if (kStudent) {
        const T q = kStored ? gs[i] * cs : vector_exp(lq);
        gs[i] = scale * (beta * (q - p) + k_s * q);
      }
      if (kTeacher) {
        const T g = scale * p * (beta * (lp - lq) + k_t);
        gt[i] = p > T(0) ? g : T(0);
      }
    }
  }
}

// One row: statistics, loss, and the gradients asked for. kStored: the statistics pass keeps its
// exps (student's in gs, teacher's in et) so the gradient pass computes none.
template <typename T, bool kStudent, bool kTeacher, bool kStored>
RAZOR_INLINE void row_pass(const T* s, const T* t, int64_t classes, int64_t target, T inv_tau,
                           const KdCall& call, T* gs, T* gt, T* et, double* row_loss) {
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  BlockRefs<T> refs;
  KdRowStats<double> st{kNegInf, 0.0, kNegInf, 0.0, 0.0, 0.0};
  constexpr bool kStoreS = kStored && kStudent;
  const bool has_target = target >= 0;
  const int64_t split = has_target ? target : classes;
  gather_stats<T, kStoreS, kStored>(s, t, 0, split, inv_tau, st, gs, et, refs);
  if (has_target) gather_stats<T, kStoreS, kStored>(s, t, target + 1, classes, inv_tau, st, gs, et, refs);
  st.max_gap = static_cast<double>(static_cast<T>(st.max_t) - static_cast<T>(st.max_s));
  const double target_t = has_target ? static_cast<double>(t[target] * inv_tau) : 0.0;
  const double target_s = has_target ? static_cast<double>(s[target] * inv_tau) : 0.0;
  const KdRowResult<double> r = kd_row_result<double>(
      st, static_cast<long long>(has_target ? classes - 1 : classes), has_target, target_t,
      target_s, call.alpha, call.beta);
  *row_loss = r.loss;
  if (!kStudent && !kTeacher) return;
  int64_t block = 0;
  const auto segment = [&](int64_t lo, int64_t hi) {
    write_grads<T, kStudent, kTeacher, kStored>(
        s, t, lo, hi, inv_tau, static_cast<T>(r.lse_t), static_cast<T>(r.lse_s),
        static_cast<T>(call.beta), static_cast<T>(r.k_s), static_cast<T>(r.k_t),
        static_cast<T>(call.grad_scale), gs, gt, et, refs, block);
  };
  segment(0, split);
  if (!has_target) return;
  segment(target + 1, classes);
  if (kStudent) gs[target] = static_cast<T>(call.grad_scale * r.target_g_s);
  if (kTeacher) gt[target] = static_cast<T>(call.grad_scale * r.target_g_t);
}

template <typename T, bool kStudent, bool kTeacher>
RAZOR_INLINE void row_grads_any_length(const T* s, const T* t, int64_t classes, int64_t target,
                                       T inv_tau, const KdCall& call, T* gs, T* gt, T* scratch,
                                       double* row_loss) {
  const int64_t blocks = target < 0 ? (classes + kBlock - 1) / kBlock
                                    : (target + kBlock - 1) / kBlock +
                                          (classes - target - 1 + kBlock - 1) / kBlock;
  if (blocks <= kMaxBlocks) {
    T* et = kTeacher ? gt : scratch;
    row_pass<T, kStudent, kTeacher, true>(s, t, classes, target, inv_tau, call, gs, gt, et, row_loss);
  } else {
    row_pass<T, kStudent, kTeacher, false>(s, t, classes, target, inv_tau, call, gs, gt, nullptr, row_loss);
  }
}

template <typename T>
RAZOR_INLINE void rows_impl(const KdCall& call, int64_t begin, int64_t end, double* row_loss) {
  const int64_t n = call.classes;
  const T inv_tau = static_cast<T>(call.inv_tau);
  const T* student = static_cast<const T*>(call.student);
  const T* teacher = static_cast<const T*>(call.teacher);
  T* grad_s = static_cast<T*>(call.grad_student);
  T* grad_t = static_cast<T*>(call.grad_teacher);
  // The teacher's exps of one row, kept for the gradient pass when gt cannot hold them; reused
  // for every row, so it stays in cache and adds no memory traffic.
  std::vector<T> scratch;
  if (grad_s != nullptr && grad_t == nullptr && n <= kMaxBlocks * kBlock) {
    scratch.resize(static_cast<size_t>(n));
  }
  for (int64_t row = begin; row < end; ++row) {
    const T* s = student + row * n;
    const T* t = teacher + row * n;
    const int64_t target = call.target != nullptr ? call.target[row] : -1;
    T* gs = grad_s != nullptr ? grad_s + row * n : nullptr;
    T* gt = grad_t != nullptr ? grad_t + row * n : nullptr;
    double* loss = row_loss + row;
    if (gs != nullptr && gt != nullptr) {
      row_grads_any_length<T, true, true>(s, t, n, target, inv_tau, call, gs, gt, nullptr, loss);
    } else if (gs != nullptr) {
      row_grads_any_length<T, true, false>(s, t, n, target, inv_tau, call, gs, gt, scratch.data(), loss);
    } else if (gt != nullptr) {
      row_grads_any_length<T, false, true>(s, t, n, target, inv_tau, call, gs, gt, nullptr, loss);
    } else {
      row_pass<T, false, false, false>(s, t, n, target, inv_tau, call, gs, gt, nullptr, loss);
    }
  }
}

RAZOR_INLINE void kd_rows_f32_body(const KdCall& call, int64_t begin, int64_t end,
                                   double* row_loss) {
  rows_impl<float>(call, begin, end, row_loss);
}
RAZOR_EXP_VERSIONS(kd_rows_f32,
                   (const KdCall& call, int64_t begin, int64_t end, double* row_loss),
                   (call, begin, end, row_loss))

RAZOR_INLINE void kd_rows_f64_body(const KdCall& call, int64_t begin, int64_t end,
                                   double* row_loss) {
  rows_impl<double>(call, begin, end, row_loss);
}
RAZOR_EXP_VERSIONS(kd_rows_f64,
                   (const KdCall& call, int64_t begin, int64_t end, double* row_loss),
                   (call, begin, end, row_loss))

}  // namespace

void kd_rows(const KdCall& call, int64_t begin, int64_t end, double* row_loss) {
  if (begin >= end) return;
  switch (call.dtype) {
    case DType::kFloat32: return kd_rows_f32(call, begin, end, row_loss);
    case DType::kFloat64: return kd_rows_f64(call, begin, end, row_loss);
    default: return;  // the bindings reject other dtypes on the CPU
  }
}

}  // namespace cpu
}  // namespace razor
