"""Python face of the razor_ext kernels (``torch.ops.razor_ext.*``): friendly signatures, autograd
and fake (meta) registrations. Pure-PyTorch references live in :mod:`razor_ext.ops.reference`."""
from razor_ext.ops import reference
from razor_ext.ops.channel_gather import channel_gather
from razor_ext.ops.channel_norms import channel_norms
from razor_ext.ops.cwd_loss import cwd_loss
from razor_ext.ops.dkd_loss import dkd_loss
from razor_ext.ops.fake_quantize import fake_quantize
from razor_ext.ops.fused_observe_fake_quantize import fused_observe_fake_quantize
from razor_ext.ops.kd_kl_div import kd_kl_div
from razor_ext.ops.lsq_fake_quantize import lsq_fake_quantize

__all__ = ["channel_gather", "channel_norms", "cwd_loss", "dkd_loss", "fake_quantize",
           "fused_observe_fake_quantize", "kd_kl_div", "lsq_fake_quantize", "reference"]

from razor_ext.ops.dynamic_conv import dynamic_conv2d  # noqa: E402
from razor_ext.ops.dynamic_linear import dynamic_linear  # noqa: E402

__all__ += ["dynamic_conv2d", "dynamic_linear"]
from razor_ext.ops.weight_only_linear import weight_only_linear  # noqa: E402

__all__ += ["weight_only_linear"]
