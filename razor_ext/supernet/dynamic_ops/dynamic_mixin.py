"""``DynamicMixin``: how a dynamic op holds the mutables that drive its elastic attributes."""
from __future__ import annotations

from typing import Any

from torch import nn

from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.supernet.mutables.mutable_value import DerivedMutable


#: the child containers :class:`DynamicMixin` adds to a module (not part of its computation)
MUTABLE_CONTAINERS = ('mutable_attrs', 'derived_sources')


def base_sources(mutable: BaseMutable | DerivedMutable) -> list[BaseMutable]:
    """The searchable mutables a (possibly nested) derived value is computed from."""
    if isinstance(mutable, BaseMutable):
        return [mutable]
    found: list[BaseMutable] = []
    for source in mutable.sources:
        found += [m for m in base_sources(source) if all(m is not f for f in found)]
    return found


class DynamicMixin:
    """Elastic attributes (``out_channels``, ``kernel_size``, ``depth``...) driven by mutables.

    A :class:`BaseMutable` is registered as a submodule under ``mutable_attrs`` (so a
    ``NasMutator`` finds it and one mutable shared by several ops is one search group); a
    :class:`DerivedMutable` (e.g. ``expand * 4``) is kept aside and never searched itself.
    Input-side widths (``in_channels``, ``in_features``, ``num_features``, ``embed_dims``) follow
    the input in ``forward``. Register the upstream mutable on them wherever the input width is
    elastic: the static op takes its width from that mutable (else the full width), and a
    forward whose input disagrees with it raises, so a subnet export is never silently wrong.

    Subclasses list their elastic attributes in ``accepted_mutable_attrs`` and implement
    ``to_static_op()``.
    """

    accepted_mutable_attrs: tuple[str, ...] = ()

    def _init_dynamic(self) -> None:
        self.mutable_attrs = nn.ModuleDict()
        # the searchable sources of derived attributes (e.g. an expand ratio only ever used as
        # ``width * expand``): registered here so a mutator finds them
        self.derived_sources = nn.ModuleDict()
        self._derived_attrs: dict[str, DerivedMutable] = {}

    def register_mutable_attr(self, attr: str, mutable: BaseMutable | DerivedMutable) -> Any:
        """Make ``attr`` follow ``mutable.current_choice``; returns ``self`` for chaining.

        Raises:
            ValueError: ``attr`` is not elastic for this op, or a choice is out of range.
            TypeError: ``mutable`` is not a mutable.
        """
        if attr not in self.accepted_mutable_attrs:
            raise ValueError(f'{type(self).__name__} has no elastic attribute {attr!r}; '
                             f'it accepts {list(self.accepted_mutable_attrs)}')
        if isinstance(mutable, BaseMutable):
            choices = list(mutable.choices)
        elif isinstance(mutable, DerivedMutable):
            choices = [mutable.current_choice]
        else:
            raise TypeError(f'{attr}: expected a BaseMutable or DerivedMutable, got '
                            f'{type(mutable).__name__}')
        for choice in choices:  # before registering: a rejected mutable leaves no trace
            self._check_attr_choice(attr, choice)
        self._derived_attrs.pop(attr, None)
        if attr in self.mutable_attrs:
            del self.mutable_attrs[attr]
        for key in [k for k in self.derived_sources if k.startswith(f'{attr}_')]:
            del self.derived_sources[key]
        if isinstance(mutable, BaseMutable):
            self.mutable_attrs[attr] = mutable
        else:
            self._derived_attrs[attr] = mutable
            for i, source in enumerate(base_sources(mutable)):
                self.derived_sources[f'{attr}_{i}'] = source
        return self

    def _check_attr_choice(self, attr: str, choice: Any) -> None:
        """Subclasses reject choices their weights cannot serve."""

    def get_mutable_attr(self, attr: str) -> BaseMutable | DerivedMutable | None:
        if attr in self.mutable_attrs:
            return self.mutable_attrs[attr]
        return self._derived_attrs.get(attr)

    def active(self, attr: str, full: Any) -> Any:
        """The current value of ``attr``: its mutable's choice, or ``full`` when not elastic."""
        mutable = self.get_mutable_attr(attr)
        if mutable is None:
            return full
        value = mutable.current_choice
        self._check_attr_choice(attr, value)
        return value

    def owned_parameters(self) -> list[nn.Parameter]:
        """The parameters :meth:`count_active_params` accounts for."""
        return list(self.parameters(recurse=False))  # type: ignore[attr-defined]

    def count_active_params(self, x: Any) -> int:
        """Parameters of the active sub-op for input ``x`` (what its static op would hold)."""
        raise NotImplementedError

    def to_static_op(self) -> nn.Module:
        raise NotImplementedError
