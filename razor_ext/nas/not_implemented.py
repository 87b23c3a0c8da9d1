"""MMRazor NAS components razor_ext does not implement: building one raises NotImplementedError
with the reason (docs/mmrazor_compat.md lists them)."""
from razor_ext.registry import LOOPS, register_not_implemented

register_not_implemented(LOOPS, ['AutoSlimGreedySearchLoop'],
                         "AutoSlim's greedy channel search (slim the unit whose narrowing "
                         'costs the least accuracy, down to each target FLOPs) is not ported')
