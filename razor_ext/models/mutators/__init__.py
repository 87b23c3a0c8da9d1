"""Mutators: find the mutables of a supernet, group them, and sample or set their choices."""
from razor_ext.models.mutators.nas_mutator import NasMutator

__all__ = ['NasMutator']
