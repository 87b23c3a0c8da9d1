"""``OneHotMutableOP``: DSNAS's edge, one candidate sampled per forward from the architecture
distribution, with the DSNAS gradient to the architecture parameters in the same backward."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from razor_ext.supernet.mutables.diff_mutable_op import DiffMutableOP
from razor_ext.registry import MODELS

__all__ = ['OneHotMutableOP']


@MODELS.register_module()
class OneHotMutableOP(DiffMutableOP):
    """A :class:`DiffMutableOP` that runs ONE candidate per forward (DSNAS, Hu et al. 2020).

    In training, a one-hot ``Z`` is drawn from ``softmax(arch_param)`` (Gumbel-max sampling);
    only the sampled candidate runs and its output is scaled by ``Z_k``. ``Z_k`` equals 1 in
    value but carries ``exp(log p_k - stop_grad(log p_k))``, so the one backward of the task loss
    gives the architecture parameters DSNAS's gradient ``dL/dZ_k * d log p_k / d alpha`` (the
    score-function estimator MMRazor assembles in a second pass) next to the weights' gradients.
    In eval mode the most likely candidate runs. The sample is kept in ``arch_weights`` (shape
    ``[len(choices)]``, detached) for the resource loss.

    Once the largest probability exceeds the second largest by ``fix_threshold`` the edge fixes
    itself to it (MMRazor's behaviour; the default 1.0 never triggers with two or more choices).

    Args: as :class:`DiffMutableOP`.

    Example:
        >>> op = OneHotMutableOP({'a': nn.Identity(), 'b': nn.Identity()})  # doctest: +SKIP
        >>> op.set_forward_args(nn.Parameter(torch.zeros(2)))  # doctest: +SKIP
        >>> op(x).sum().backward()  # the arch param now has a gradient  # doctest: +SKIP
    """

    arch_weights: torch.Tensor | None = None

    def sample_weights(self, arch_param: torch.Tensor) -> torch.Tensor:
        """The one-hot ``Z`` (shape ``[len(choices)]``) carrying the log-probability gradient."""
        log_probs = F.log_softmax(arch_param, -1)
        if self.training:
            gumbel = -torch.empty_like(log_probs).exponential_().log()
            index = int(torch.argmax(log_probs.detach() + gumbel))
        else:
            index = int(torch.argmax(log_probs.detach()))
        one_hot = torch.zeros_like(log_probs)
        one_hot[index] = 1.0
        picked = log_probs[index]
        return one_hot * torch.exp(picked - picked.detach())

    def forward_arch_param(self, x: Any, arch_param: torch.Tensor) -> Any:
        probs = self.compute_arch_probs(arch_param).detach()
        if len(probs) > 1:
            top = torch.topk(probs, 2).values
            if float(top[0] - top[1]) >= self.fix_threshold:
                self.fix_chosen(self._all_choices[int(torch.argmax(probs))])
                return self.forward_fixed(x)
        weights = self.sample_weights(arch_param)
        self.arch_weights = weights.detach()  # a record (deep-copyable), not part of the graph
        index = int(torch.argmax(weights.detach()))
        return weights[index] * self._candidates[self._all_choices[index]](x)

    @property
    def sampled_choice(self) -> str | None:
        """The candidate the last forward ran (None before any)."""
        if self.arch_weights is None:
            return None
        return self._all_choices[int(torch.argmax(self.arch_weights.detach()))]
