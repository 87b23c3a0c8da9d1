// CUDA impls of the KD op family (schemas and CPU impls: kd_ops.cpp; shared checks: kd_args.h).
// One launch covers every row (razor/kd_cuda.h); the per-row losses come back as a float64
// device tensor and are reduced by ATen on the same stream. Built only where torch has CUDA.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <tuple>

#include "kd_args.h"
#include "razor/kd_cuda.h"

namespace razor_ext {
namespace {

using KdOutputs = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

void check_kd_launch(const char* op, cudaError_t status) {
  TORCH_CHECK(status == cudaSuccess, op, ": CUDA kernel launch failed: ",
              cudaGetErrorString(status));
}

KdOutputs run_kd_cuda(const char* op, const KdPlan& plan, const at::Tensor& student,
                      const at::Tensor& teacher, const int64_t* target, bool grad_student,
                      bool grad_teacher) {
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
    check_kd_launch(op, razor::cuda::launch_kd_rows(call, plan.rows,
                                                    row_loss.mutable_data_ptr<double>(),
                                                    c10::cuda::getCurrentCUDAStream().stream()));
  } else {
    if (grad_student) gs.zero_();
    if (grad_teacher) gt.zero_();
  }
  return {kd_reduce_rows(plan, row_loss, student.scalar_type()), gs, gt};
}

KdOutputs kd_kl_div_cuda(const at::Tensor& student, const at::Tensor& teacher, double tau,
                         c10::string_view reduction, bool grad_student, bool grad_teacher) {
  constexpr const char* op = "kd_kl_div";
  const KdPlan plan = check_kd_kl_div_call(op, student, teacher, tau, reduction, true);
  const c10::cuda::CUDAGuard device_guard(student.device());
  return run_kd_cuda(op, plan, student, teacher, nullptr, grad_student, grad_teacher);
}

// The CPU impl's range check and message, read from the device with one sync.
void check_dkd_targets_cuda(const char* op, const at::Tensor& target, int64_t classes) {
  if (target.numel() == 0) return;
  at::Tensor extremes = at::empty({2}, target.options());
  at::Tensor min = extremes[0];
  at::Tensor max = extremes[1];
  at::aminmax_out(min, max, target);
  const at::Tensor host = extremes.cpu();
  const int64_t* host_extremes = host.const_data_ptr<int64_t>();
  if (host_extremes[0] >= 0 && host_extremes[1] < classes) return;
  const at::Tensor flat = target.reshape({-1});
  const at::Tensor bad_positions = at::nonzero(at::logical_or(flat < 0, flat >= classes));
  const int64_t bad = bad_positions[0][0].item<int64_t>();
  TORCH_CHECK_INDEX(false, op, ": target[", bad, "] = ", flat[bad].item<int64_t>(),
                    " is not a class index in [0, ", classes, ")");
}

KdOutputs dkd_loss_cuda(const at::Tensor& student, const at::Tensor& teacher,
                        const at::Tensor& target, double alpha, double beta, double tau,
                        c10::string_view reduction, bool grad_student, bool grad_teacher) {
  constexpr const char* op = "dkd_loss";
  const KdPlan plan =
      check_dkd_call(op, student, teacher, target, alpha, beta, tau, reduction, true);
  const c10::cuda::CUDAGuard device_guard(student.device());
  const at::Tensor y = target.contiguous();
  check_dkd_targets_cuda(op, y, plan.classes);
  return run_kd_cuda(op, plan, student, teacher, y.const_data_ptr<int64_t>(), grad_student,
                     grad_teacher);
}

}  // namespace

TORCH_LIBRARY_IMPL(razor_ext, CUDA, m) {
  m.impl("kd_kl_div", &kd_kl_div_cuda);
  m.impl("dkd_loss", &dkd_loss_cuda);
}

}  // namespace razor_ext
