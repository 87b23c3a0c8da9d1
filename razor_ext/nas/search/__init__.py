"""Subnet search on a supernet: evolution and random search, BN recalibration."""
from razor_ext.nas.search.bn_calibration import bn_calibrator, recalibrate_bn
from razor_ext.nas.search.evolution import (Candidate, SearchConstraintError, SearchResult,
                                            evolution_search, random_search, resolve_mutator,
                                            subnet_key)

__all__ = ['Candidate', 'SearchConstraintError', 'SearchResult', 'bn_calibrator',
           'evolution_search', 'random_search', 'recalibrate_bn', 'resolve_mutator',
           'subnet_key']
