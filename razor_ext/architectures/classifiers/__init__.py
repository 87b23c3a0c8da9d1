"""mmcls-style classifiers."""
from razor_ext.architectures.classifiers.image import ClsDataPreprocessor, ImageClassifier
from razor_ext.architectures.classifiers.searchable import SearchableImageClassifier

__all__ = ['ClsDataPreprocessor', 'ImageClassifier', 'SearchableImageClassifier']
