"""MMRazor pruning components razor_ext does not implement: building one raises
NotImplementedError with the reason (docs/mmrazor_compat.md lists them)."""
from razor_ext.registry import LOOPS, register_not_implemented

register_not_implemented(LOOPS, ['DMCPSubnetLoop'],
                         'evaluating DMCP subnets in a loop is not ported; DMCPSubnetHook writes '
                         'them and sub_model builds one to evaluate')
