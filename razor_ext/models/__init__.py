"""Models: algorithms and their components; importing this registers them in ``MODELS``."""
from razor_ext.models import algorithms, architectures, data_preprocessors, dynamic_ops, mutables, mutators
from razor_ext.models import fake_quants, observers, quantizers
from razor_ext.models import connectors, deliveries, distillers, losses, recorders
from razor_ext.models.algorithms import BaseAlgorithm
from razor_ext.models.data_preprocessors import BaseDataPreprocessor, ImgDataPreprocessor

__all__ = ['algorithms', 'architectures', 'connectors', 'data_preprocessors', 'deliveries',
           'distillers', 'dynamic_ops', 'fake_quants', 'losses', 'mutables', 'mutators', 'observers', 'quantizers',
           'recorders', 'BaseAlgorithm', 'BaseDataPreprocessor', 'ImgDataPreprocessor']
