"""Python face of the razor_ext kernels (``torch.ops.razor_ext.*``): friendly signatures, autograd
and fake (meta) registrations. Pure-PyTorch references live in :mod:`razor_ext.ops.reference`."""
from razor_ext.ops import reference
from razor_ext.ops.channel_gather import channel_gather
from razor_ext.ops.channel_norms import channel_norms
from razor_ext.ops.fake_quantize import fake_quantize
from razor_ext.ops.fused_observe_fake_quantize import fused_observe_fake_quantize
from razor_ext.ops.lsq_fake_quantize import lsq_fake_quantize

__all__ = ["channel_gather", "channel_norms", "reference"]
__all__ += ["fake_quantize", "fused_observe_fake_quantize", "lsq_fake_quantize"]
