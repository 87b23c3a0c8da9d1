"""MMRazor pruning components razor_ext does not implement: building one raises
NotImplementedError with the reason (docs/mmrazor_compat.md lists them)."""
from razor_ext.registry import HOOKS, LOOPS, MODELS, register_not_implemented

register_not_implemented(MODELS, ['DCFF', 'DCFFChannelMutator', 'DCFFChannelUnit'],
                         'DCFF (dynamic-coded filter fusion) is not ported')
register_not_implemented(HOOKS, ['DMCPSubnetHook'], 'DMCP is not ported')
register_not_implemented(LOOPS, ['DMCPSubnetLoop'], 'DMCP is not ported')
