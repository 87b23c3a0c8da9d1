"""Reference architectures built in the project (no torchvision/timm at run time)."""
from razor_ext.models.architectures import backbones, classifiers, heads, necks, ops
from razor_ext.models.architectures.backbones import (MobileNetV2, SearchableMobileNetV2,
                                                      SearchableShuffleNetV2)
from razor_ext.models.architectures.classifiers import ImageClassifier
from razor_ext.models.architectures.heads import LinearClsHead
from razor_ext.models.architectures.mnist_cnn import MnistCNN
from razor_ext.models.architectures.necks import GlobalAveragePooling
from razor_ext.models.architectures.resnet import Bottleneck, ResNet, resnet50
from razor_ext.models.architectures.searchable_mnist import SearchableMnistNet
from razor_ext.models.architectures.sub_model import sub_model

__all__ = ['Bottleneck', 'GlobalAveragePooling', 'ImageClassifier', 'LinearClsHead', 'MnistCNN',
           'MobileNetV2', 'ResNet', 'SearchableMnistNet', 'SearchableMobileNetV2',
           'SearchableShuffleNetV2', 'backbones', 'classifiers', 'heads', 'necks', 'ops',
           'resnet50', 'sub_model']
