"""Reference architectures built in the project (no torchvision/timm at run time)."""
from razor_ext.models.architectures.mnist_cnn import MnistCNN
from razor_ext.models.architectures.resnet import Bottleneck, ResNet, resnet50
from razor_ext.models.architectures.searchable_mnist import SearchableMnistNet
from razor_ext.models.architectures.sub_model import sub_model

__all__ = ['Bottleneck', 'MnistCNN', 'ResNet', 'SearchableMnistNet', 'resnet50', 'sub_model']
from razor_ext.models.architectures import backbones, ops  # noqa: E402,F401  (register DARTS search space)
