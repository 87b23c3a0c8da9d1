"""Neural architecture search: the :class:`NasMutator` over a supernet's mutables, the algorithms
that train a supernet (SPOS, DSNAS, DARTS, AutoSlim, BigNAS), the search for the best subnet under
resource limits (evolution, random, BN recalibration), and subnet files (export, load, ``sub_model``).

Mutables and dynamic ops live in :mod:`razor_ext.supernet` (pruning uses them too).

Example:
    >>> from razor_ext.architectures import SearchableMnistNet
    >>> mutator = NasMutator()
    >>> mutator.prepare_from_supernet(SearchableMnistNet())
    >>> len(mutator.search_groups) > 0
    True
"""
from razor_ext.nas import algorithms, search
from razor_ext.nas.algorithms import (DARTS, DSNAS, SPOS, Autoformer, AutoSlim, BigNAS,
                                      NASAlgorithm, SandwichAlgorithm, SlimmableNetwork)
from razor_ext.supernet.nas_mutator import NasMutator
from razor_ext.nas.search import (Candidate, SearchConstraintError, SearchResult, bn_calibrator,
                                  evolution_search, random_search, recalibrate_bn)
from razor_ext.nas.one_shot_channel_mutator import OneShotChannelMutator
from razor_ext.nas.sub_model import sub_model
from razor_ext.supernet.fix_subnet import export_fix_subnet, load_fix_subnet

__all__ = ['AutoSlim', 'Autoformer', 'BigNAS', 'Candidate', 'DARTS', 'DSNAS', 'NASAlgorithm', 'NasMutator', 'OneShotChannelMutator', 'SPOS',
           'SandwichAlgorithm', 'SearchConstraintError', 'SlimmableNetwork', 'SearchResult', 'algorithms',
           'bn_calibrator', 'evolution_search', 'export_fix_subnet', 'load_fix_subnet',
           'random_search', 'recalibrate_bn', 'search', 'sub_model']
