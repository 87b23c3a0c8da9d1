"""``CRDConnector``: CRD's embedding head (linear, then L2 normalisation)."""
from __future__ import annotations

from torch import Tensor, nn

from razor_ext.registry import MODELS


@MODELS.register_module()
class CRDConnector(nn.Module):
    """Flatten -> ``Linear(dim_in, dim_out)`` -> divide by the L2 norm (no epsilon, as MMRazor).

    Shapes: ``(N, dim_in)`` (or any ``(N, ...)`` with ``dim_in`` elements per sample) ->
    ``(N, dim_out)`` with unit rows.

    Example:
        >>> import torch
        >>> y = CRDConnector(dim_in=6, dim_out=3)(torch.randn(2, 6, 1, 1))
        >>> y.shape, torch.allclose(y.norm(dim=1), torch.ones(2))
        (torch.Size([2, 3]), True)
    """

    def __init__(self, dim_in: int = 1024, dim_out: int = 128, init_cfg: object = None) -> None:
        super().__init__()
        self.linear = nn.Linear(dim_in, dim_out)

    def forward(self, x: Tensor) -> Tensor:
        x = self.linear(x.reshape(x.size(0), -1))
        return x / x.pow(2).sum(1, keepdim=True).sqrt()


__all__ = ['CRDConnector']
