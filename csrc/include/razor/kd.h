// KD reductions over rows of logits (DESIGN.md section 4): temperature KL divergence, and its
// decoupled (DKD) form. Channel-wise distillation (CWD) is the same reduction over rows of H*W.
// The math per row is in razor/kd_row_math.h; this is the contract of the CPU kernel.
#pragma once

#include <cstdint>

#include "razor/channel_layout.h"  // DType

namespace razor {

// What one call works on: `rows` contiguous rows of `classes` logits each.
struct KdCall {
  const void* student;  // [rows, classes], dtype
  const void* teacher;  // [rows, classes], dtype
  DType dtype;
  int64_t classes;
  double inv_tau;       // 1 / tau, tau > 0
  const int64_t* target;  // DKD: [rows] class per row, each in [0, classes); nullptr for plain KD
  double alpha;         // DKD: TCKD weight (unused without target)
  double beta;          // KL (NCKD) weight
  double grad_scale;    // written gradients are grad_scale * d(row loss)/d(logit')
  void* grad_student;   // [rows, classes] of dtype, or nullptr: not computed
  void* grad_teacher;   // [rows, classes] of dtype, or nullptr: not computed
};

namespace cpu {

// For every row r in [begin, end): row_loss[r] = that row's loss (razor/kd_row_math.h), and the
// row's gradients where asked for. One read of the row gathers its statistics (online max per
// block of classes); the gradient pass reads the row again while it is still in cache.
// Float32 accumulates in float lanes flushed to double per block; float64 throughout in double.
// Only kFloat32 and kFloat64 are supported on the CPU.
void kd_rows(const KdCall& call, int64_t begin, int64_t end, double* row_loss);

}  // namespace cpu
}  // namespace razor
