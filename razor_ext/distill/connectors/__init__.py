"""Connectors: small trainable (or fixed) adapters applied to recorded features."""
from razor_ext.distill.connectors.byot_connector import BYOTConnector
from razor_ext.distill.connectors.crd_connector import CRDConnector
from razor_ext.distill.connectors.conv_connectors import (ConvModuleConnector, LinearConnector,
                                                          NormConnector, SingleConvConnector)
from razor_ext.distill.connectors.factor_transfer_connectors import Paraphraser, Translator
from razor_ext.distill.connectors.ofd_connector import OFDTeacherConnector
from razor_ext.distill.connectors.torch_connectors import TorchFunctionalConnector, TorchNNConnector

__all__ = ['BYOTConnector', 'CRDConnector', 'ConvModuleConnector', 'LinearConnector', 'NormConnector', 'SingleConvConnector',
           'Paraphraser', 'Translator', 'OFDTeacherConnector', 'TorchFunctionalConnector',
           'TorchNNConnector']
