// Schemas of the KD op family and their CPU impls. Each op returns (loss, grad_student,
// grad_teacher): the gradients of the loss w.r.t. the logits are computed in the same pass as the
// loss (razor/kd.h) where the caller asks for them, so that backward is a multiply by the incoming
// gradient. A gradient not asked for comes back as an empty [0] tensor.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <tuple>

#include "kd_args.h"
#include "razor/kd.h"

namespace razor_ext {
namespace {

// Rows of about this many bytes (per input) per parallel_for grain: below it threads cost more
// than they save.
constexpr int64_t kGrainBytes = 64 * 1024;

using KdOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

KdOutputs run_kd_cpu(const KdPlan& plan, const at::Tensor& student, const at::Tensor& teacher,
                     const int64_t* target, bool grad_student, bool grad_teacher) {
  const at::Tensor s = student.contiguous();
  const at::Tensor t = teacher.contiguous();
  at::Tensor gs = kd_grad_buffer(grad_student, s);
  at::Tensor gt = kd_grad_buffer(grad_teacher, t);
  at::Tensor row_loss = at::zeros({plan.rows}, s.options().dtype(at::kDouble));
  if (plan.rows > 0 && plan.classes > 0) {
    razor::KdCall call{s.const_data_ptr(), t.const_data_ptr(), plan.dtype, plan.classes,
                       1.0 / plan.tau, target, plan.alpha, plan.beta, plan.tau,
                       grad_student ? gs.mutable_data_ptr() : nullptr,
                       grad_teacher ? gt.mutable_data_ptr() : nullptr};
    double* losses = row_loss.mutable_data_ptr<double>();
    const int64_t row_bytes = plan.classes * s.element_size();
    const int64_t grain = row_bytes >= kGrainBytes ? 1 : kGrainBytes / row_bytes;
    at::parallel_for(0, plan.rows, grain, [&](int64_t begin, int64_t end) {
      razor::cpu::kd_rows(call, begin, end, losses);
    });
  } else if (grad_student || grad_teacher) {
    // No classes: the loss does not depend on any logit.
    if (grad_student) gs.zero_();
    if (grad_teacher) gt.zero_();
  }
  return {kd_reduce_rows(plan, row_loss, student.scalar_type()), gs, gt};
}

KdOutputs kd_kl_div_cpu(const at::Tensor& student, const at::Tensor& teacher, double tau,
                        c10::string_view reduction, bool grad_student, bool grad_teacher) {
  constexpr const char* op = "kd_kl_div";
  const KdPlan plan = check_kd_kl_div_call(op, student, teacher, tau, reduction, false);
  return run_kd_cpu(plan, student, teacher, nullptr, grad_student, grad_teacher);
}

KdOutputs dkd_loss_cpu(const at::Tensor& student, const at::Tensor& teacher,
                       const at::Tensor& target, double alpha, double beta, double tau,
                       c10::string_view reduction, bool grad_student, bool grad_teacher) {
  constexpr const char* op = "dkd_loss";
  const KdPlan plan =
      check_dkd_call(op, student, teacher, target, alpha, beta, tau, reduction, false);
  const at::Tensor y = target.contiguous();
  check_dkd_targets_cpu(op, y, plan.classes);
  return run_kd_cpu(plan, student, teacher, y.const_data_ptr<int64_t>(), grad_student,
                    grad_teacher);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(razor_ext, m) {
  m.def(
      "kd_kl_div(Tensor student, Tensor teacher, float tau, str reduction, bool grad_student, "
      "bool grad_teacher) -> (Tensor, Tensor, Tensor)");
  m.def(
      "dkd_loss(Tensor student, Tensor teacher, Tensor target, float alpha, float beta, "
      "float tau, str reduction, bool grad_student, bool grad_teacher) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(razor_ext, CPU, m) {
  m.impl("kd_kl_div", &kd_kl_div_cpu);
  m.impl("dkd_loss", &dkd_loss_cpu);
}

}  // namespace razor_ext
