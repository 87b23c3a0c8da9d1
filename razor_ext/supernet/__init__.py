"""Supernets: mutables (the searchable choices), dynamic ops (layers whose width, kernel size or
heads follow those choices), the :class:`NasMutator` that groups mutables and sets their choices,
and the subnet files that record a choice (MMRazor's format).

Shared machinery: used by NAS and by mask-driven pruning; imports only ops and core.
"""
from razor_ext.supernet import dynamic_ops, mutables
from razor_ext.supernet.dynamic_ops import DynamicMixin
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet
from razor_ext.supernet.mutables import BaseMutable
from razor_ext.supernet.nas_mutator import NasMutator

__all__ = ['BaseMutable', 'DynamicMixin', 'dynamic_ops', 'export_fix_subnet', 'load_fix_subnet',
           'mutables', 'NasMutator']
