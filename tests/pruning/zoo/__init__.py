"""Tiny versions of the architectures pruning must handle, written here (no torchvision/timm)."""
from tests.pruning.zoo.cnn import (ConvNeXtNet, DenseNet, DictOutputNet, EfficientNetNet,
                                   MobileNetV2, MobileNetV3, RegNet, ResNetBasic, ShuffleNetV2,
                                   UNet)
from tests.pruning.zoo.llm import TinyLlama, TinyLlamaConfig
from tests.pruning.zoo.vit import SwinNet, TorchEncoderNet, TorchMHAViT, ViT

__all__ = ['ConvNeXtNet', 'DenseNet', 'DictOutputNet', 'EfficientNetNet', 'MobileNetV2',
           'MobileNetV3', 'RegNet', 'ResNetBasic', 'ShuffleNetV2', 'SwinNet', 'TinyLlama',
           'TinyLlamaConfig', 'TorchEncoderNet', 'TorchMHAViT', 'UNet', 'ViT']
