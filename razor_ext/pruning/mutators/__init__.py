"""Channel mutators: find a model's channel units by tracing and set their widths (pruning), or
sample them (slimmable networks, as AutoSlim / BigNAS train them)."""
from razor_ext.pruning.mutators.channel_mutator import (ChannelMutator, MutableChannelUnit,
                                                        sequential_scores)
from razor_ext.pruning.mutators.dcff_channel_mutator import DCFFChannelMutator
from razor_ext.pruning.mutators.dmcp_channel_mutator import DMCPChannelMutator
from razor_ext.pruning.mutators.slimmable_channel_mutator import (SlimmableChannelMutator,
                                                                  SlimmableChannelUnit)

__all__ = ['ChannelMutator', 'DCFFChannelMutator', 'DMCPChannelMutator', 'MutableChannelUnit', 'SlimmableChannelMutator',
           'SlimmableChannelUnit', 'sequential_scores']
