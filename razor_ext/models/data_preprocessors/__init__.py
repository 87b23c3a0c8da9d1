"""Data preprocessors: batch -> ``{'inputs', 'data_samples'}`` on the model's device."""
from razor_ext.models.data_preprocessors.preprocessor import (BaseDataPreprocessor,
                                                              ImgDataPreprocessor)

__all__ = ['BaseDataPreprocessor', 'ImgDataPreprocessor']
