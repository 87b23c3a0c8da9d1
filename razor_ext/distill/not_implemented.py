"""MMRazor distillation components razor_ext does not implement: building one raises
NotImplementedError with the reason (docs/mmrazor_compat.md lists them)."""
from razor_ext.registry import DATASETS, MODELS, TRANSFORMS, register_not_implemented

register_not_implemented(MODELS, ['CRDConnector'],
                         "CRD's memory-bank connector is not ported (CRDLoss itself is)")
register_not_implemented(DATASETS, ['CRDDataset'],
                         "CRD's dataset wrapper (contrastive sample indices) is not ported")
register_not_implemented(TRANSFORMS, ['PackCRDClsInputs'],
                         "CRD's packing of contrastive indices is not ported")
register_not_implemented(MODELS, ['TIMMBackbone'],
                         'timm needs torchvision, which does not import with the CPU torch here')
