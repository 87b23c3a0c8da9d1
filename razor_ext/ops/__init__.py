"""Python face of the razor_ext kernels (``torch.ops.razor_ext.*``): friendly signatures, autograd
and fake (meta) registrations. Pure-PyTorch references live in :mod:`razor_ext.ops.reference`."""
from razor_ext.ops import reference
from razor_ext.ops.channel_gather import channel_gather
from razor_ext.ops.channel_norms import channel_norms

__all__ = ["channel_gather", "channel_norms", "reference"]
