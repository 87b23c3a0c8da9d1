"""Subnets: export the chosen architecture of a supernet and load it back (MMRazor's format)."""
from razor_ext.structures.fix_subnet import export_fix_subnet, load_fix_subnet

__all__ = ['export_fix_subnet', 'load_fix_subnet']
