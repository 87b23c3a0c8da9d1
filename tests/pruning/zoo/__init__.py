"""Tiny versions of the architectures pruning must handle, written here (no torchvision/timm)."""
from tests.pruning.zoo.cnn import (ConvNeXtNet, DenseNet, DictOutputNet, EfficientNetNet,
                                   MobileNetV2, MobileNetV3, RegNet, ResNetBasic, ShuffleNetV2,
                                   UNet)
from tests.pruning.zoo.lang_attrs import (BertLike, GPT2Like, HeadDimLM,
                                          UntraceableSize)
from tests.pruning.zoo.llm import TinyLlama, TinyLlamaConfig
from tests.pruning.zoo.vision_attrs import FunctionalSwin, HiddenDimViT, MaxViTNet
from tests.pruning.zoo.vit import SwinNet, TorchEncoderNet, TorchMHAViT, ViT

__all__ = ['BertLike', 'FunctionalSwin', 'GPT2Like', 'HeadDimLM', 'HiddenDimViT', 'MaxViTNet',
           'UntraceableSize',
           'ConvNeXtNet', 'DenseNet', 'DictOutputNet', 'EfficientNetNet', 'MobileNetV2',
           'MobileNetV3', 'RegNet', 'ResNetBasic', 'ShuffleNetV2', 'SwinNet', 'TinyLlama',
           'TinyLlamaConfig', 'TorchEncoderNet', 'TorchMHAViT', 'UNet', 'ViT']
