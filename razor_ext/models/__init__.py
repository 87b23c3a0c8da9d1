"""Models: algorithms and their components; importing this registers them in ``MODELS``."""
from razor_ext.models import algorithms, architectures, data_preprocessors, mutables, mutators
from razor_ext.models.algorithms import BaseAlgorithm
from razor_ext.models.data_preprocessors import BaseDataPreprocessor, ImgDataPreprocessor

__all__ = ['algorithms', 'architectures', 'data_preprocessors', 'mutables', 'mutators', 'BaseAlgorithm', 'BaseDataPreprocessor',
           'ImgDataPreprocessor']
from razor_ext.models import fake_quants, observers, quantizers  # noqa: E402  (register in MODELS)

__all__ += ['fake_quants', 'observers', 'quantizers']

from razor_ext.models import losses  # noqa: E402  (distillation losses register in MODELS)
from razor_ext.models import deliveries, recorders  # noqa: E402,F401
from razor_ext.models import distillers  # noqa: E402,F401
from razor_ext.models import connectors  # noqa: E402,F401
