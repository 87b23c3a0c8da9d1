"""NAS algorithms: SPOS, DSNAS, DARTS, AutoSlim, BigNAS, Autoformer, SlimmableNetwork (MMRazor's names and arguments)."""
from razor_ext.nas.algorithms.autoformer import Autoformer
from razor_ext.nas.algorithms.autoslim import AutoSlim
from razor_ext.nas.algorithms.base_nas import NASAlgorithm
from razor_ext.nas.algorithms.bignas import BigNAS
from razor_ext.nas.algorithms.darts import DARTS
from razor_ext.nas.algorithms.dsnas import DSNAS
from razor_ext.nas.algorithms.sandwich import SandwichAlgorithm
from razor_ext.nas.algorithms.slimmable import SlimmableNetwork
from razor_ext.nas.algorithms.spos import SPOS

__all__ = ['AutoSlim', 'Autoformer', 'BigNAS', 'DARTS', 'DSNAS', 'NASAlgorithm', 'SPOS', 'SandwichAlgorithm', 'SlimmableNetwork']
