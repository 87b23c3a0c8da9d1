"""mmcls-style classifiers."""
from razor_ext.architectures.classifiers.image import ClsDataPreprocessor, ImageClassifier

__all__ = ['ClsDataPreprocessor', 'ImageClassifier']
