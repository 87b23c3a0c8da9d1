"""Backbones with MMRazor's / mmcls's class names, arguments and module paths."""
from razor_ext.architectures.backbones.attentive_mobilenet_v3 import AttentiveMobileNetV3
from razor_ext.architectures.backbones.autoformer import AutoformerBackbone
from razor_ext.architectures.backbones.mmcls_resnet import ResNet_CIFAR
from razor_ext.architectures.backbones.mmcls_resnet import ResNet as MMClsResNet
from razor_ext.architectures.backbones.mobilenet_v2 import MobileNetV2, make_divisible
from razor_ext.architectures.backbones.searchable_mobilenet_v2 import SearchableMobileNetV2
from razor_ext.architectures.backbones.searchable_shufflenet_v2 import SearchableShuffleNetV2
from razor_ext.architectures.backbones.shufflenet_v2 import ShuffleNetV2
from razor_ext.architectures.backbones.vision_transformer import (DistilledVisionTransformer,
                                                                  VisionTransformer)
from razor_ext.architectures.backbones.wideresnet import WideResNet

__all__ = ['AttentiveMobileNetV3', 'AutoformerBackbone', 'DistilledVisionTransformer', 'MMClsResNet', 'MobileNetV2',
           'ResNet_CIFAR', 'SearchableMobileNetV2', 'SearchableShuffleNetV2', 'ShuffleNetV2',
           'VisionTransformer', 'WideResNet', 'make_divisible']
from razor_ext.architectures.backbones.darts_backbone import DartsBackbone  # noqa: E402,F401
