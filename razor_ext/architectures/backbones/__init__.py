"""Backbones with MMRazor's / mmcls's class names, arguments and module paths."""
from razor_ext.architectures.backbones.attentive_mobilenet_v3 import AttentiveMobileNetV3
from razor_ext.architectures.backbones.mobilenet_v2 import MobileNetV2, make_divisible
from razor_ext.architectures.backbones.searchable_mobilenet_v2 import SearchableMobileNetV2
from razor_ext.architectures.backbones.searchable_shufflenet_v2 import SearchableShuffleNetV2

__all__ = ['AttentiveMobileNetV3', 'MobileNetV2', 'SearchableMobileNetV2', 'SearchableShuffleNetV2', 'make_divisible']
from razor_ext.architectures.backbones.darts_backbone import DartsBackbone  # noqa: E402,F401
