"""Mutables: the searchable parts of a supernet (MMRazor's concept). Each holds its candidate
choices and a current choice; a mutator sets choices on all of them."""
from razor_ext.supernet.mutables.base_mutable import BaseMutable
from razor_ext.supernet.mutables.diff_mutable_op import (DiffChoiceRoute, DiffMutableModule,
                                                         DiffMutableOP, GumbelChoiceRoute)
from razor_ext.supernet.mutables.mutable_channel import OneShotMutableChannel
from razor_ext.supernet.mutables.mutable_value import DerivedMutable, OneShotMutableValue
from razor_ext.supernet.mutables.one_hot_mutable_op import OneHotMutableOP
from razor_ext.supernet.mutables.one_shot_mutable_op import OneShotMutableOP

__all__ = ['BaseMutable', 'DerivedMutable', 'DiffChoiceRoute', 'DiffMutableModule', 'DiffMutableOP',
           'GumbelChoiceRoute', 'OneHotMutableOP', 'OneShotMutableChannel', 'OneShotMutableOP',
           'OneShotMutableValue']
