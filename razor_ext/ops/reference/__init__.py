"""Pure-PyTorch references of every razor_ext op: the ground truth the kernels are tested against.

Each function here has the signature and semantics of the op of the same name in
``razor_ext.ops``, written in the most obvious eager PyTorch. One module per op family.
"""
from razor_ext.ops.reference.channel import channel_gather, channel_norms
from razor_ext.ops.reference.dynamic_conv import dynamic_conv2d, dynamic_linear
from razor_ext.ops.reference.fake_quant import fake_quantize, lsq_fake_quantize, observe_qparams
from razor_ext.ops.reference.kd import cwd_loss, dkd_loss, kd_kl_div

__all__ = ["channel_gather", "channel_norms", "cwd_loss", "dkd_loss", "fake_quantize", "kd_kl_div",
           "lsq_fake_quantize", "observe_qparams"]
__all__ += ["dynamic_conv2d", "dynamic_linear"]
from razor_ext.ops.reference.weight_only import weight_only_linear  # noqa: E402

__all__ += ["weight_only_linear"]
