"""CRDLoss: Tian et al., "Contrastive Representation Distillation" (ICLR 2020)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from razor_ext.registry import MODELS


def _field(sample: Any, name: str) -> Any:
    return sample.get(name) if isinstance(sample, dict) else getattr(sample, name, None)


class ContrastMemory(nn.Module):
    """Two memory banks (student-side and teacher-side embeddings of every training sample)
    and the NCE scores of a batch against one positive and ``neg_num`` sampled negatives.

    The banks are momentum-updated with the batch's embeddings after scoring. Negatives are
    drawn uniformly (MMRazor draws from an alias table built on uniform weights: the same
    distribution).
    """

    def __init__(self, dim_out: int, n_sample: int, neg_num: int, temperature: float,
                 momentum: float) -> None:
        super().__init__()
        self.n_sample, self.neg_num = n_sample, neg_num
        self.temperature, self.momentum = temperature, momentum
        stdv = 1.0 / math.sqrt(dim_out / 3)
        self.register_buffer('memory_v1', torch.rand(n_sample, dim_out) * (2 * stdv) - stdv)
        self.register_buffer('memory_v2', torch.rand(n_sample, dim_out) * (2 * stdv) - stdv)
        # Normalisation constants, fixed from the first batch (-1 = not set yet).
        self.register_buffer('z_consts', torch.tensor([-1.0, -1.0]))

    def forward(self, feat_s: Tensor, feat_t: Tensor, idx: Tensor,
                contrast_idx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        bsz = feat_s.size(0)
        if contrast_idx is None:
            contrast_idx = torch.randint(0, self.n_sample, (bsz, self.neg_num + 1),
                                         device=feat_s.device)
            contrast_idx[:, 0] = idx
        # The student is scored against the teacher-side bank and vice versa.
        w_t = self.memory_v2[contrast_idx.reshape(-1)].reshape(bsz, -1, feat_s.size(1))
        w_s = self.memory_v1[contrast_idx.reshape(-1)].reshape(bsz, -1, feat_t.size(1))
        out_s = torch.exp(torch.bmm(w_t, feat_s.unsqueeze(2)) / self.temperature)
        out_t = torch.exp(torch.bmm(w_s, feat_t.unsqueeze(2)) / self.temperature)
        if self.z_consts[0] < 0:
            self.z_consts[0] = out_s.mean().detach() * self.n_sample
        if self.z_consts[1] < 0:
            self.z_consts[1] = out_t.mean().detach() * self.n_sample
        out_s, out_t = out_s / self.z_consts[0], out_t / self.z_consts[1]
        with torch.no_grad():
            for bank, feat in ((self.memory_v1, feat_s), (self.memory_v2, feat_t)):
                updated = bank[idx] * self.momentum + feat.detach() * (1 - self.momentum)
                bank.index_copy_(0, idx, F.normalize(updated, dim=1))
        return out_s, out_t


def _contrast_loss(x: Tensor, n_data: int, eps: float) -> Tensor:
    """NCE loss of scores ``(N, 1 + K, 1)``: the positive is column 0."""
    m = x.size(1) - 1
    noise = m / n_data
    log_pos = torch.log(x[:, 0] / (x[:, 0] + noise + eps))
    log_neg = torch.log(noise / (x[:, 1:] + noise + eps))
    return -(log_pos.sum() + log_neg.sum()) / x.size(0)


@MODELS.register_module()
class CRDLoss(nn.Module):
    """Contrastive representation distillation with a momentum memory bank (NCE).

    Paper: Tian, Krishnan, Isola, "Contrastive Representation Distillation",
    https://arxiv.org/abs/1910.10699. Embeddings come from CRD connectors (linear + L2 norm).

    Args:
        loss_weight: multiplier (MMRazor ignores it; applied here, see docs/distillation.md).
        temperature: NCE temperature. neg_num: negatives per sample. sample_n: data set size.
        dim_out: embedding width. momentum: memory update momentum. eps: NCE epsilon.

    ``forward(s_feats (N, dim_out), t_feats (N, dim_out), data_samples)``: ``data_samples``
    is a sequence of samples (objects or dicts) holding a ``sample_idx`` tensor (and
    optionally ``contrast_sample_idxs``), or directly an ``(N,)`` index tensor.

    Example:
        >>> import torch
        >>> loss = CRDLoss(neg_num=4, sample_n=10, dim_out=3)
        >>> f = torch.nn.functional.normalize(torch.randn(2, 3), dim=1)
        >>> loss(f, f, torch.tensor([0, 5])).ndim
        0
    """

    def __init__(self, loss_weight: float = 1.0, temperature: float = 0.07, neg_num: int = 16384,
                 sample_n: int = 50000, dim_out: int = 128, momentum: float = 0.5,
                 eps: float = 1e-7) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.eps = eps
        self.sample_n = sample_n
        self.contrast = ContrastMemory(dim_out, sample_n, neg_num, temperature, momentum)

    @staticmethod
    def _indices(data_samples: Tensor | Sequence[Any]) -> tuple[Tensor, Tensor | None]:
        if isinstance(data_samples, Tensor):
            return data_samples.long().reshape(-1), None
        # PackClsInputs keeps sample_idx as an int (mmcls's metainfo), PackCRDClsInputs a tensor.
        idx = [torch.as_tensor(i) if isinstance(i, int) and not isinstance(i, bool) else i
               for i in (_field(s, 'sample_idx') for s in data_samples)]
        if any(not isinstance(i, Tensor) for i in idx):
            raise TypeError('every data sample must hold a `sample_idx` (int or tensor) for '
                            'CRDLoss (CRDDataset + PackCRDClsInputs give it)')
        contrast = [_field(s, 'contrast_sample_idxs') for s in data_samples]
        contrast_t = torch.stack(contrast) if all(isinstance(c, Tensor) for c in contrast) else None
        return torch.stack(idx).long().reshape(-1), contrast_t

    def forward(self, s_feats: Tensor, t_feats: Tensor,
                data_samples: Tensor | Sequence[Any]) -> Tensor:
        idx, contrast_idx = self._indices(data_samples)
        out_s, out_t = self.contrast(s_feats, t_feats, idx, contrast_idx)
        loss = (_contrast_loss(out_s, self.sample_n, self.eps)
                + _contrast_loss(out_t, self.sample_n, self.eps))
        return self.loss_weight * loss
