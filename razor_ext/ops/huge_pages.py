"""``advise_huge_pages``: back a large fresh CPU tensor with transparent huge pages before it is
written (see ``csrc/include/razor/huge_pages.h`` for why: a fresh tensor's page faults can cost
more than filling it). ``channel_gather`` does this for its own large outputs; this is for
outputs allocated in Python and filled piecewise (the blocked weight cuts of pruning)."""
from __future__ import annotations

from torch import Tensor

from razor_ext.extension import load_extension


def advise_huge_pages(t: Tensor) -> bool:
    """Ask the kernel to map the 2 MiB-aligned pages inside ``t``'s memory as huge pages.

    Call it on a tensor just made by ``torch.empty``: pages already written stay small. It is
    advice: the values are untouched and the kernel may still use small pages.

    Args:
        t: a CPU tensor of any shape and dtype.

    Returns:
        whether advice was given: False on CUDA tensors, off Linux, under 4 MiB, or when the
        host has transparent huge pages disabled.

    Example:
        >>> import torch
        >>> out = torch.empty(1024, 2048)  # 8 MiB, not yet written
        >>> isinstance(advise_huge_pages(out), bool)
        True
        >>> advise_huge_pages(torch.empty(16))
        False
    """
    if not isinstance(t, Tensor):
        raise TypeError(f'advise_huge_pages: t must be a Tensor, got {type(t).__name__}')
    if t.device.type != 'cpu' or t.numel() == 0:
        return False
    return bool(load_extension().advise_huge_pages(t.data_ptr(), t.nbytes))
