"""Mutators: manage the mutable parts of a model (channel units, NAS choices)."""
from razor_ext.models.mutators.channel_mutator import ChannelMutator, MutableChannelUnit  # noqa: F401
