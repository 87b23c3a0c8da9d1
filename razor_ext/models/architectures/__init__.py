"""Reference architectures built in the project (no torchvision/timm at run time)."""
from razor_ext.models.architectures.mnist_cnn import MnistCNN
from razor_ext.models.architectures.resnet import Bottleneck, ResNet, resnet50

__all__ = ['Bottleneck', 'MnistCNN', 'ResNet', 'resnet50']
