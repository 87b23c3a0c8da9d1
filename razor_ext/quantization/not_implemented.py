"""MMRazor quantization loops razor_ext does not implement: building one raises
NotImplementedError with the reason (docs/mmrazor_compat.md lists them)."""
from razor_ext.registry import LOOPS, register_not_implemented

register_not_implemented(LOOPS, ['LSQEpochBasedLoop'],
                         "MMRazor's LSQ loop (observer freezing per epoch for LSQ fake quants) is "
                         "not ported; QATEpochBasedLoop trains LSQ fake quants")
register_not_implemented(LOOPS, ['QATValLoop'],
                         "MMRazor's QAT validation of both the float and the fake-quant model is "
                         "not ported; ValLoop evaluates the fake-quant model")
