"""Mutators: find the mutable parts of a model (NAS choices, channel units), group them, and
sample or set their choices."""
from razor_ext.models.mutators.channel_mutator import ChannelMutator, MutableChannelUnit
from razor_ext.models.mutators.nas_mutator import NasMutator
from razor_ext.models.mutators.slimmable_channel_mutator import (SlimmableChannelMutator,
                                                                 SlimmableChannelUnit)

__all__ = ['ChannelMutator', 'MutableChannelUnit', 'NasMutator', 'SlimmableChannelMutator',
           'SlimmableChannelUnit']
