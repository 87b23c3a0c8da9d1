"""NAS algorithms: SPOS, DSNAS, DARTS, AutoSlim, BigNAS (MMRazor's names and arguments)."""
from razor_ext.models.algorithms.nas.autoslim import AutoSlim
from razor_ext.models.algorithms.nas.base_nas import NASAlgorithm
from razor_ext.models.algorithms.nas.bignas import BigNAS
from razor_ext.models.algorithms.nas.darts import DARTS
from razor_ext.models.algorithms.nas.sandwich import SandwichAlgorithm
from razor_ext.models.algorithms.nas.spos import SPOS

__all__ = ['AutoSlim', 'BigNAS', 'DARTS', 'NASAlgorithm', 'SPOS', 'SandwichAlgorithm']
from razor_ext.models.algorithms.nas.dsnas import DSNAS  # noqa: E402

__all__ += ['DSNAS']
