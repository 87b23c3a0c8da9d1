"""Reference architectures built in the project (no torchvision/timm at run time)."""
from razor_ext.architectures import backbones, classifiers, heads, necks, ops
from razor_ext.architectures.backbones import (MobileNetV2, SearchableMobileNetV2,
                                               SearchableShuffleNetV2)
from razor_ext.architectures.classifiers import ImageClassifier
from razor_ext.architectures.heads import LinearClsHead
from razor_ext.architectures.mnist_cnn import MnistCNN
from razor_ext.architectures.necks import GlobalAveragePooling
from razor_ext.architectures.resnet import Bottleneck, ResNet, resnet50
from razor_ext.architectures.searchable_mnist import SearchableMnistNet
from razor_ext.architectures.searchable_slim_net import SearchableSlimNet

__all__ = ['Bottleneck', 'GlobalAveragePooling', 'ImageClassifier', 'LinearClsHead', 'MnistCNN',
           'MobileNetV2', 'ResNet', 'SearchableMnistNet', 'SearchableMobileNetV2',
           'SearchableShuffleNetV2', 'SearchableSlimNet', 'backbones', 'classifiers', 'heads', 'necks', 'ops',
           'resnet50']
