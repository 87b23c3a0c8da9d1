"""Differentiable mutables (DARTS family): ``DiffMutableOP`` mixes candidate operations by the
softmax of architecture parameters; ``DiffChoiceRoute`` / ``GumbelChoiceRoute`` mix the inputs
of a DARTS node.

The architecture parameters belong to the mutator (``NasMutator.prepare_arch_params``), one per
search group, so that aliased mutables share one; the mutator hands each mutable a reference
with :meth:`DiffMutableModule.set_forward_args` (MMRazor's name). The reference is not registered
as a parameter of the supernet, so the supernet's ``parameters()`` are the weights only and the
architecture optimizer sees ``mutator.parameters()``.
"""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.registry import MODELS

__all__ = ['ChosenOps', 'ChosenRoute', 'DiffChoiceRoute', 'DiffMutableModule', 'DiffMutableOP',
           'GumbelChoiceRoute']


def _build_candidates(candidates: Mapping[str, Any], module_kwargs: Mapping[str, Any] | None,
                      owner: str) -> nn.ModuleDict:
    if not isinstance(candidates, (Mapping, nn.ModuleDict)) or not len(candidates):
        raise ValueError(f'{owner} needs a non-empty dict of candidates')
    built = {}
    for name, cand in candidates.items():
        if isinstance(cand, Mapping):
            cand = MODELS.build({**dict(cand), **dict(module_kwargs or {})})
        if not isinstance(cand, nn.Module):
            raise TypeError(f'{owner}: candidate {name!r} must be an nn.Module or a config dict, '
                            f'got {type(cand).__name__}')
        built[name] = cand
    return nn.ModuleDict(built)


class DiffMutableModule(BaseMutable):
    """Base of mutables driven by architecture parameters.

    ``forward(x, arch_param=None)``: a fixed mutable runs its chosen candidates; otherwise the
    given ``arch_param`` (or the one set by :meth:`set_forward_args`) weights the candidates; with
    none at all every candidate runs and the outputs are summed (MMRazor's ``forward_all``, used
    to count resources).
    """

    def __init__(self, alias: str | None = None) -> None:
        super().__init__(alias)
        self._all_choices: list[str] = []

    # The mutator's parameter, held without registering it (see the module docstring).
    @property
    def arch_param(self) -> nn.Parameter | None:
        return self.__dict__.get('_arch_param')

    def set_forward_args(self, arch_param: nn.Parameter | None) -> None:
        """Use ``arch_param`` (shape ``[len(choices)]``) in every later forward."""
        if arch_param is not None and arch_param.shape != (len(self._all_choices),):
            raise ValueError(f'arch_param must have shape ({len(self._all_choices)},) for choices '
                             f'{self._all_choices}, got {tuple(arch_param.shape)}')
        self.__dict__['_arch_param'] = arch_param

    @property
    def choices(self) -> list[str]:
        return list(self._candidates.keys())

    def compute_arch_probs(self, arch_param: torch.Tensor) -> torch.Tensor:
        """Mixing weights of the candidates: ``softmax(arch_param)``, shape ``[len(choices)]``."""
        return F.softmax(arch_param, -1)

    def forward(self, x: Any, arch_param: torch.Tensor | None = None) -> Any:
        if self.is_fixed:
            return self.forward_fixed(x)
        arch_param = self.arch_param if arch_param is None else arch_param
        if arch_param is None:
            return self.forward_all(x)
        return self.forward_arch_param(x, arch_param)

    def forward_fixed(self, x: Any) -> Any:
        raise NotImplementedError

    def forward_all(self, x: Any) -> Any:
        raise NotImplementedError

    def forward_arch_param(self, x: Any, arch_param: torch.Tensor) -> Any:
        raise NotImplementedError

    def _choice_of(self, names: list[str]) -> Any:
        """The ``current_choice`` that fixing to ``names`` sets."""
        raise NotImplementedError

    def fix_chosen(self, chosen: str | Sequence[str]) -> None:
        """Keep only the ``chosen`` candidate(s) / edge(s); the others and their weights are
        dropped (edges keep their input positions)."""
        names = [chosen] if isinstance(chosen, str) else list(chosen)
        if self.is_fixed:
            if sorted(names) == sorted(self._chosen):
                return  # fixing again to the same choice (a subnet loaded twice) is harmless
            raise AttributeError(f'{type(self).__name__} is already fixed to {self._chosen}')
        self.current_choice = self._choice_of(names)
        for name in self.choices:
            if name not in names:
                del self._candidates[name]
        self._chosen = names
        self.is_fixed = True

    def dump_chosen(self) -> dict[str, Any]:
        """The derived choice (``sample_choice`` of the held architecture parameter, i.e. the
        argmax) when there is one and the mutable is not fixed, else ``current_choice``."""
        chosen = self.current_choice
        if not self.is_fixed and self.arch_param is not None:
            chosen = self.sample_choice(self.arch_param)
        return {'chosen': chosen, 'meta': {'all_choices': list(self._all_choices)}}


@MODELS.register_module()
class DiffMutableOP(DiffMutableModule):
    """A DARTS edge: ``sum_i softmax(arch_param)_i * candidate_i(x)``.

    Args:
        candidates: name -> ``nn.Module`` or a MODELS config dict (built with ``module_kwargs``).
        fix_threshold: in ``[0, 1]``; subclasses that fix themselves during search (DSNAS's
            :class:`~razor_ext.supernet.mutables.OneHotMutableOP`) do so once the largest
            probability exceeds the second by this much.
        module_kwargs: keyword arguments merged into every candidate config (channels, stride).
        alias: shared-choice name: aliased edges share one architecture parameter.
        is_fixed: build the mutable already fixed to its first candidate (a retrained subnet
            whose config lists one candidate).
        init_cfg: accepted for MMRazor configs; unused.

    Choices are candidate names; ``current_choice`` is a name (or a list of names for a fixed
    edge that keeps several). ``sample_choice(arch_param)`` is the argmax (the derived genotype).

    Shapes: those of the candidates, which must agree (e.g. ``[N, C, H, W] -> [N, C, H', W']``).

    Example:
        >>> op = DiffMutableOP({'conv': nn.Conv2d(4, 4, 3, padding=1), 'skip': nn.Identity()})
        >>> alpha = nn.Parameter(torch.tensor([0.0, 10.0]))
        >>> op.set_forward_args(alpha)
        >>> x = torch.randn(1, 4, 5, 5)
        >>> torch.allclose(op(x), x, atol=1e-3), op.sample_choice(alpha)
        (True, 'skip')
    """

    def __init__(self, candidates: Mapping[str, nn.Module | Mapping[str, Any]],
                 fix_threshold: float = 1.0, module_kwargs: Mapping[str, Any] | None = None,
                 alias: str | None = None, is_fixed: bool = False,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(alias)
        if not 0.0 <= float(fix_threshold) <= 1.0:
            raise ValueError(f'fix_threshold must be in [0, 1], got {fix_threshold}')
        self.fix_threshold = float(fix_threshold)
        self._candidates = _build_candidates(candidates, module_kwargs, type(self).__name__)
        self._all_choices = list(self._candidates.keys())
        self._current_choice = self._all_choices[0]
        self._chosen: list[str] = []
        if is_fixed:
            self.fix_chosen(self._all_choices[0])

    def _check_choice(self, choice: Any) -> None:
        names = [choice] if isinstance(choice, str) else choice
        if (not isinstance(names, (list, tuple)) or not names
                or any(n not in self._all_choices for n in names)):
            raise ValueError(f'{type(self).__name__}{f" {self.alias!r}" if self.alias else ""}: '
                             f'choice {choice!r} is not one of {self._all_choices} '
                             f'(or a list of them)')

    @BaseMutable.current_choice.setter  # type: ignore[attr-defined]
    def current_choice(self, choice: Any) -> None:
        # Subnet files write one kept candidate as a one-element list.
        if isinstance(choice, (list, tuple)) and len(choice) == 1:
            choice = choice[0]
        BaseMutable.current_choice.fset(self, choice)  # type: ignore[attr-defined]

    def sample_choice(self, arch_param: torch.Tensor | None = None) -> str:
        """The argmax of ``arch_param`` (or of the held one); uniformly random without either."""
        arch_param = self.arch_param if arch_param is None else arch_param
        if arch_param is None:
            return random.choice(self.choices)
        return self._all_choices[int(torch.argmax(arch_param.detach()))]

    def forward_fixed(self, x: Any) -> Any:
        return sum(self._candidates[name](x) for name in self._chosen)

    def forward_all(self, x: Any) -> Any:
        return sum(op(x) for op in self._candidates.values())

    def forward_arch_param(self, x: Any, arch_param: torch.Tensor) -> Any:
        probs = self.compute_arch_probs(arch_param)
        return sum(p * op(x) for p, op in zip(probs, self._candidates.values()))

    def _choice_of(self, names: list[str]) -> str | list[str]:
        return names[0] if len(names) == 1 else names

    def to_static_op(self) -> nn.Module:
        """The chosen candidate itself, or a :class:`ChosenOps` sum of several."""
        if not self.is_fixed:
            raise RuntimeError(f'{type(self).__name__}: call fix_chosen before to_static_op')
        if len(self._chosen) == 1:
            return self._candidates[self._chosen[0]]
        return ChosenOps([self._candidates[n] for n in self._chosen])


class ChosenOps(nn.ModuleList):
    """The static form of an edge that keeps several candidates: the sum of their outputs."""

    def forward(self, x: Any) -> Any:
        return sum(op(x) for op in self)


class ChosenRoute(nn.Module):
    """The static form of a DARTS node: ``sum_k edges[k](inputs[index[k]])``.

    Args:
        edges: the chosen edge modules.
        index: for each edge, the position of its input in the node's input list.
    """

    def __init__(self, edges: Sequence[nn.Module], index: Sequence[int]) -> None:
        super().__init__()
        self.edges = nn.ModuleList(edges)
        self.index = list(index)

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(edge(inputs[i]) for edge, i in zip(self.edges, self.index))


@MODELS.register_module()
class DiffChoiceRoute(DiffMutableModule):
    """Input selection of a DARTS node: edge ``k`` takes ``inputs[k]``; the node sums the edges'
    outputs, weighted by ``softmax(arch_param)`` when ``with_arch_param``.

    Args:
        edges: edge name -> module (usually :class:`DiffMutableOP`), in input order.
        num_chosen: how many edges the derived cell keeps (DARTS: 2).
        with_arch_param: weight the edges by architecture parameters; without, plain sum.
        alias: shared-choice name (DARTS: ``normal_n3`` for every normal cell's node 3).
        init_cfg: accepted for MMRazor configs; unused.

    Choices are edge names; ``current_choice`` is the list of kept edges, and
    ``sample_choice(arch_param)`` the ``num_chosen`` edges with the largest parameters.

    Shapes: ``forward(inputs)`` takes a list of ``len(edges)`` tensors ``[N, C, H, W]``.

    Example:
        >>> route = DiffChoiceRoute({'p0': nn.Identity(), 'p1': nn.Identity()}, num_chosen=1,
        ...                         with_arch_param=True)
        >>> route.set_forward_args(nn.Parameter(torch.zeros(2)))
        >>> xs = [torch.ones(1, 1, 2, 2), 3 * torch.ones(1, 1, 2, 2)]
        >>> route(xs).flatten().tolist()
        [2.0, 2.0, 2.0, 2.0]
    """

    def __init__(self, edges: Mapping[str, nn.Module | Mapping[str, Any]], num_chosen: int = 2,
                 with_arch_param: bool = False, alias: str | None = None,
                 init_cfg: Mapping[str, Any] | None = None) -> None:
        super().__init__(alias)
        self._candidates = _build_candidates(edges, None, type(self).__name__)
        self._all_choices = list(self._candidates.keys())
        if not isinstance(num_chosen, int) or not 1 <= num_chosen <= len(self._all_choices):
            raise ValueError(f'num_chosen must be an int in [1, {len(self._all_choices)}], '
                             f'got {num_chosen!r}')
        self.num_chosen = num_chosen
        self._with_arch_param = bool(with_arch_param)
        # A route without architecture parameters sums every edge: that is its choice.
        self._current_choice = self._current_default()
        self._chosen: list[str] = []

    @property
    def with_arch_param(self) -> bool:
        return self._with_arch_param

    def _check_choice(self, choice: Any) -> None:
        names = [choice] if isinstance(choice, str) else choice
        if (not isinstance(names, (list, tuple)) or not names
                or any(n not in self._all_choices for n in names)):
            raise ValueError(f'{type(self).__name__}{f" {self.alias!r}" if self.alias else ""}: '
                             f'choice {choice!r} is not a list of edges from {self._all_choices}')

    @BaseMutable.current_choice.setter  # type: ignore[attr-defined]
    def current_choice(self, choice: Any) -> None:
        choice = [choice] if isinstance(choice, str) else list(choice)
        BaseMutable.current_choice.fset(self, choice)  # type: ignore[attr-defined]

    @property
    def max_choice(self) -> list[str]:
        return self._current_default()

    @property
    def min_choice(self) -> list[str]:
        return self._current_default()

    def _current_default(self) -> list[str]:
        return (self._all_choices[:self.num_chosen] if self._with_arch_param
                else list(self._all_choices))

    def sample_choice(self, arch_param: torch.Tensor | None = None) -> list[str]:
        """The ``num_chosen`` edges with the largest ``arch_param``; without one, random edges
        (or every edge for a route without architecture parameters: a plain sum)."""
        arch_param = self.arch_param if arch_param is None else arch_param
        if not self._with_arch_param:
            return list(self._all_choices)
        if arch_param is None:
            return random.sample(self._all_choices, self.num_chosen)
        order = torch.argsort(arch_param.detach(), descending=True, stable=True).tolist()
        return [self._all_choices[i] for i in order[:self.num_chosen]]

    def forward(self, x: Sequence[torch.Tensor], arch_param: torch.Tensor | None = None) -> Any:
        if len(x) != len(self._all_choices):
            raise ValueError(f'{type(self).__name__} has {len(self._all_choices)} edges but got '
                             f'{len(x)} inputs')
        if not self._with_arch_param and not self.is_fixed:
            return self.forward_all(x)
        return super().forward(x, arch_param)

    def forward_fixed(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(self._candidates[n](x[self._all_choices.index(n)]) for n in self._chosen)

    def forward_all(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(op(xi) for op, xi in zip(self._candidates.values(), x))

    def forward_arch_param(self, x: Sequence[torch.Tensor], arch_param: torch.Tensor) -> torch.Tensor:
        probs = self.compute_arch_probs(arch_param)
        # A hard Gumbel sample has exact zeros: skip those edges instead of running them.
        return sum(p * op(xi) for p, op, xi in zip(probs, self._candidates.values(), x)
                   if not (p.detach() == 0).item())

    def _choice_of(self, names: list[str]) -> str | list[str]:
        return names

    def to_static_op(self) -> nn.Module:
        """A :class:`ChosenRoute` over the chosen edges."""
        if not self.is_fixed:
            raise RuntimeError(f'{type(self).__name__}: call fix_chosen before to_static_op')
        return ChosenRoute([self._candidates[n] for n in self._chosen],
                           [self._all_choices.index(n) for n in self._chosen])


@MODELS.register_module()
class GumbelChoiceRoute(DiffChoiceRoute):
    """A :class:`DiffChoiceRoute` whose edge weights are a Gumbel-softmax sample of the
    architecture parameters (``hard=True``: one-hot forward, soft gradient).

    Args:
        edges, with_arch_param, alias, init_cfg: see :class:`DiffChoiceRoute`.
        tau: Gumbel-softmax temperature (> 0).
        hard: one-hot samples with a straight-through gradient.
        num_chosen: edges kept by ``sample_choice``.

    Example:
        >>> route = GumbelChoiceRoute({'p0': nn.Identity(), 'p1': nn.Identity()}, tau=0.5,
        ...                           with_arch_param=True)
        >>> probs = route.compute_arch_probs(torch.zeros(2))
        >>> sorted(probs.tolist())
        [0.0, 1.0]
    """

    def __init__(self, edges: Mapping[str, nn.Module | Mapping[str, Any]], tau: float = 1.0,
                 hard: bool = True, with_arch_param: bool = False, alias: str | None = None,
                 init_cfg: Mapping[str, Any] | None = None, num_chosen: int = 2) -> None:
        super().__init__(edges, num_chosen=min(num_chosen, len(edges)),
                         with_arch_param=with_arch_param, alias=alias, init_cfg=init_cfg)
        self.set_temperature(tau)
        self.hard = bool(hard)

    def set_temperature(self, tau: float) -> None:
        if not float(tau) > 0:
            raise ValueError(f'tau must be > 0, got {tau}')
        self.tau = float(tau)

    def compute_arch_probs(self, arch_param: torch.Tensor) -> torch.Tensor:
        return F.gumbel_softmax(arch_param, tau=self.tau, hard=self.hard, dim=-1)
