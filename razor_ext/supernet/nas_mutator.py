"""``NasMutator``: the search groups of a supernet and their choices."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.registry import MODELS

KINDS = ('random', 'max', 'min')


@MODELS.register_module()
class NasMutator(nn.Module):
    """Groups every :class:`BaseMutable` of a supernet and samples / sets their choices.

    A group is one choice shared by its mutables: by default one group per mutable, named by its
    alias (mutables with the same alias share a group) or its module path; ``custom_groups``
    joins module paths into named groups (``{'stage1': ['backbone.layers.0', ...]}``).
    Choices are plain dicts ``{group name: choice}``.

    Args:
        custom_groups: group name -> list of mutable module paths.

    Example:
        >>> from razor_ext.supernet.mutables import OneShotMutableOP
        >>> net = nn.Sequential(OneShotMutableOP({'a': nn.Identity(), 'b': nn.ReLU()}))
        >>> mutator = NasMutator()
        >>> mutator.prepare_from_supernet(net)
        >>> mutator.set_choices({'0': 'b'}); mutator.current_choices
        {'0': 'b'}
    """

    def __init__(self, custom_groups: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__()
        self.custom_groups = dict(custom_groups or {})
        self._groups: dict[str, list[BaseMutable]] = {}

    def prepare_from_supernet(self, supernet: nn.Module) -> None:
        """Find the mutables of ``supernet`` and build the search groups."""
        mutables = {name: m for name, m in supernet.named_modules() if isinstance(m, BaseMutable)}
        if not mutables:
            raise ValueError(f'{type(supernet).__name__} has no mutables: nothing to search')
        groups: dict[str, list[BaseMutable]] = {}
        claimed: set[str] = set()
        for group, paths in self.custom_groups.items():
            for path in paths:
                if path not in mutables:
                    raise KeyError(f'custom_groups[{group!r}] names {path!r}, which is not a mutable; '
                                   f'mutables: {sorted(mutables)}')
                groups.setdefault(group, []).append(mutables[path])
                claimed.add(path)
        for name, mutable in mutables.items():
            if name not in claimed:
                groups.setdefault(mutable.alias or name, []).append(mutable)
        for group, members in groups.items():
            choices = members[0].choices
            for member in members[1:]:
                if member.choices != choices:
                    raise ValueError(f'group {group!r} joins mutables with different choices: '
                                     f'{choices} vs {member.choices}')
        self._groups = groups

    @property
    def search_groups(self) -> dict[str, list[BaseMutable]]:
        if not self._groups:
            raise RuntimeError('call prepare_from_supernet(model) first')
        return self._groups

    def _choices_of(self, kind: str) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
        out = {}
        for group, members in self.search_groups.items():
            head = members[0]
            out[group] = (head.sample_choice() if kind == 'random' else
                          head.max_choice if kind == 'max' else head.min_choice)
        return out

    def sample_choices(self, kind: str = 'random') -> dict[str, Any]:
        """A choice per group: random, or every group's max / min (groups with architecture
        parameters: their argmax, whatever ``kind``, as MMRazor)."""
        return {**self._choices_of(kind), **self.arch_choices()}

    def set_choices(self, choices: Mapping[str, Any]) -> None:
        """Set a choice per group; every group must be given, and each choice must be valid."""
        groups = self.search_groups
        unknown = sorted(set(choices) - set(groups))
        if unknown:
            raise KeyError(f'unknown search groups {unknown}; the groups are {sorted(groups)}')
        missing = sorted(set(groups) - set(choices))
        if missing:
            raise KeyError(f'no choice given for search groups {missing}')
        for group, choice in choices.items():
            for mutable in groups[group]:
                try:
                    mutable.current_choice = choice
                except ValueError as err:
                    raise ValueError(f'search group {group!r}: {err}') from None

    @property
    def current_choices(self) -> dict[str, Any]:
        return {g: members[0].current_choice for g, members in self.search_groups.items()}

    @property
    def max_choices(self) -> dict[str, Any]:
        return self._choices_of('max')

    @property
    def min_choices(self) -> dict[str, Any]:
        return self._choices_of('min')

    def set_max_choices(self) -> None:
        self.set_choices(self.max_choices)

    def set_min_choices(self) -> None:
        self.set_choices(self.min_choices)

    # ------------------------------------------------ architecture parameters (DARTS, DSNAS)
    def prepare_arch_params(self) -> None:
        """One ``nn.Parameter`` (``1e-3 * randn(len(choices))``) per search group of
        differentiable mutables (those with ``set_forward_args``: ``DiffMutableOP``,
        ``DiffChoiceRoute``...), shared by the group's members; held in this module, so
        ``mutator.parameters()`` is what an architecture optimizer trains."""
        self._arch_params = nn.ParameterDict()
        self._arch_keys: dict[str, str] = {}
        for group, members in self.search_groups.items():
            head = members[0]
            if (not hasattr(head, 'set_forward_args') or head.is_fixed
                    or not getattr(head, 'with_arch_param', True)):
                continue
            key = f'g{len(self._arch_keys)}'  # ParameterDict keys cannot hold the dots of paths
            param = nn.Parameter(1e-3 * torch.randn(len(head.choices)))
            self._arch_params[key], self._arch_keys[group] = param, key
            for member in members:
                member.set_forward_args(param)

    @property
    def arch_params(self) -> dict[str, nn.Parameter]:
        """``{search group: architecture parameter}`` (empty for one-shot supernets)."""
        keys = getattr(self, '_arch_keys', {})
        return {group: self._arch_params[key] for group, key in keys.items()}

    def arch_choices(self) -> dict[str, Any]:
        """The derived choice (argmax / top edges) of every group with architecture parameters."""
        return {group: self.search_groups[group][0].sample_choice(param)
                for group, param in self.arch_params.items()}
