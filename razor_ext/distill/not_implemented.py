"""MMRazor distillation components razor_ext does not implement: building one raises
NotImplementedError with the reason (docs/mmrazor_compat.md lists them)."""
from razor_ext.registry import MODELS, register_not_implemented

register_not_implemented(MODELS, ['TIMMBackbone'],
                         'timm needs torchvision, which does not import with the CPU torch here')
