// Argument checks and the reduction arithmetic shared by the CPU and CUDA impls of the KD op family
// (kd_kl_div, dkd_loss), so both devices reject bad input with the same messages and reduce alike.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "razor/channel_layout.h"  // DType

namespace razor_ext {

enum class KdReduction { kNone, kBatchMean, kSum, kMean };

inline KdReduction parse_kd_reduction(const char* op, c10::string_view reduction) {
  if (reduction == "batchmean") return KdReduction::kBatchMean;
  if (reduction == "sum") return KdReduction::kSum;
  if (reduction == "mean") return KdReduction::kMean;
  if (reduction == "none") return KdReduction::kNone;
  TORCH_CHECK_VALUE(false, op, ": reduction must be 'batchmean', 'sum', 'mean' or 'none', got '",
                    std::string(reduction), "'");
}

// What a checked KD call works with. Rows are every leading index of the logits; classes are the
// last dim. alpha and beta carry the reduction's divisor (razor/kd_row_math.h), so the kernels
// never see the reduction: loss = tau^2 * sum of row losses, or per row for 'none'.
struct KdPlan {
  razor::DType dtype;
  int64_t rows = 0;
  int64_t classes = 0;
  KdReduction reduction = KdReduction::kBatchMean;
  std::vector<int64_t> row_shape;  // the leading dims: the shape of a 'none' result
  double tau = 1.0;
  double alpha = 0.0;
  double beta = 1.0;
  // 'batchmean' / 'mean' of nothing: 0 / 0, NaN as F.kl_div gives (the kernels see no divisor).
  bool zero_divisor = false;
};

inline razor::DType kd_dtype(const char* op, const at::Tensor& student, bool reduced_ok) {
  switch (student.scalar_type()) {
    case at::kFloat: return razor::DType::kFloat32;
    case at::kDouble: return razor::DType::kFloat64;
    case at::kBFloat16:
      if (reduced_ok) return razor::DType::kBFloat16;
      break;
    case at::kHalf:
      if (reduced_ok) return razor::DType::kFloat16;
      break;
    default: break;
  }
  TORCH_CHECK_TYPE(false, op, ": student must be float32 or float64",
                   reduced_ok ? " (or bfloat16/float16)" : " on the CPU (bfloat16/float16: CUDA only)",
                   ", got ", student.scalar_type());
}

inline void check_kd_scalar(const char* op, const char* name, double value, bool positive) {
  TORCH_CHECK_VALUE(std::isfinite(value) && (!positive || value > 0), op, ": ", name, " must be a ",
                    positive ? "positive " : "", "finite number, got ", value);
}

// Checks student/teacher (one shape, dtype and device; at least 1-D), tau and the reduction.
// `reduced_ok`: bfloat16/float16 are accepted (CUDA).
inline KdPlan check_kd_call(const char* op, const at::Tensor& student, const at::Tensor& teacher,
                            double tau, c10::string_view reduction, bool reduced_ok) {
  TORCH_CHECK_VALUE(student.defined() && teacher.defined(), op,
                    ": student and teacher must be defined tensors");
  TORCH_CHECK_TYPE(student.layout() == at::kStrided && teacher.layout() == at::kStrided, op,
                   ": student and teacher must be dense (strided) tensors");
  KdPlan plan;
  plan.dtype = kd_dtype(op, student, reduced_ok);
  TORCH_CHECK_TYPE(teacher.scalar_type() == student.scalar_type(), op, ": teacher has dtype ",
                   teacher.scalar_type(), " but student has ", student.scalar_type(),
                   "; cast the teacher's logits to the student's dtype");
  TORCH_CHECK_VALUE(student.dim() >= 1, op,
                    ": student must have at least 1 dim (classes last), got a 0-dim tensor");
  TORCH_CHECK_VALUE(teacher.sizes() == student.sizes(), op, ": teacher has shape ",
                    teacher.sizes(), " but student has shape ", student.sizes(),
                    "; they must be equal");
  TORCH_CHECK_VALUE(teacher.device() == student.device(), op, ": teacher is on ",
                    teacher.device(), " but student is on ", student.device());
  check_kd_scalar(op, "tau", tau, true);
  plan.reduction = parse_kd_reduction(op, reduction);
  plan.classes = student.size(-1);
  plan.row_shape.assign(student.sizes().begin(), student.sizes().end() - 1);
  plan.rows = 1;
  for (int64_t d : plan.row_shape) plan.rows *= d;
  plan.tau = tau;
  return plan;
}

// kd_kl_div: F.kl_div's divisors ('batchmean' divides by size(0), 'mean' by every element).
inline KdPlan check_kd_kl_div_call(const char* op, const at::Tensor& student,
                                   const at::Tensor& teacher, double tau,
                                   c10::string_view reduction, bool reduced_ok) {
  KdPlan plan = check_kd_call(op, student, teacher, tau, reduction, reduced_ok);
  double divisor = 1.0;
  switch (plan.reduction) {
    case KdReduction::kBatchMean: divisor = static_cast<double>(student.size(0)); break;
    case KdReduction::kMean: divisor = static_cast<double>(student.numel()); break;
    default: break;
  }
  plan.zero_divisor = divisor == 0.0;
  plan.beta = plan.zero_divisor ? 0.0 : 1.0 / divisor;
  return plan;
}

// dkd_loss: target holds one class per row; MMRazor's divisors ('mean' divides TCKD by 2 per row,
// as F.kl_div over its [N, 2] binary distributions, and NCKD by the row's C classes).
inline KdPlan check_dkd_call(const char* op, const at::Tensor& student, const at::Tensor& teacher,
                             const at::Tensor& target, double alpha, double beta, double tau,
                             c10::string_view reduction, bool reduced_ok) {
  KdPlan plan = check_kd_call(op, student, teacher, tau, reduction, reduced_ok);
  check_kd_scalar(op, "alpha", alpha, false);
  check_kd_scalar(op, "beta", beta, false);
  TORCH_CHECK_TYPE(target.defined() && target.scalar_type() == at::kLong, op,
                   ": target must be an int64 tensor of class indices, got ",
                   target.defined() ? c10::toString(target.scalar_type()) : "undefined");
  TORCH_CHECK_VALUE(target.sizes() == at::IntArrayRef(plan.row_shape), op, ": target has shape ",
                    target.sizes(), " but must be student's shape without its last dim, ",
                    at::IntArrayRef(plan.row_shape));
  TORCH_CHECK_VALUE(target.device() == student.device(), op, ": target is on ", target.device(),
                    " but student is on ", student.device());
  double divisor = 1.0, tckd_divisor = 1.0;
  switch (plan.reduction) {
    case KdReduction::kBatchMean:
      divisor = tckd_divisor = static_cast<double>(student.size(0));
      break;
    case KdReduction::kMean:
      divisor = static_cast<double>(student.numel());
      tckd_divisor = 2.0 * static_cast<double>(plan.rows);
      break;
    default: break;
  }
  plan.zero_divisor = divisor == 0.0;
  plan.alpha = plan.zero_divisor ? 0.0 : alpha / tckd_divisor;
  plan.beta = plan.zero_divisor ? 0.0 : beta / divisor;
  return plan;
}

// The loss from per-row losses (float64, [rows]): tau^2 * the sum, or per row for 'none', in the
// logits' dtype.
inline at::Tensor kd_reduce_rows(const KdPlan& plan, const at::Tensor& row_loss,
                                 at::ScalarType dtype) {
  const double scale = plan.tau * plan.tau;
  if (plan.reduction == KdReduction::kNone) {
    return (row_loss * scale).reshape(plan.row_shape).to(dtype);
  }
  if (plan.zero_divisor) return at::full({}, NAN, row_loss.options().dtype(dtype));
  return (row_loss.sum() * scale).to(dtype);
}

// An empty [0] tensor stands for a gradient that was not asked for.
inline at::Tensor kd_grad_buffer(bool wanted, const at::Tensor& like) {
  return wanted ? at::empty(like.sizes(), like.options().memory_format(at::MemoryFormat::Contiguous))
                : at::empty({0}, like.options());
}

// DKD's class indices must name a class of their row; on the CPU checked here.
inline void check_dkd_targets_cpu(const char* op, const at::Tensor& target, int64_t classes) {
  const int64_t* y = target.const_data_ptr<int64_t>();
  const int64_t n = target.numel();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK_INDEX(y[i] >= 0 && y[i] < classes, op, ": target[", i, "] = ", y[i],
                      " is not a class index in [0, ", classes, ")");
  }
}

}  // namespace razor_ext
