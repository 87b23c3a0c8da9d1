"""``razor-ext bench``: the benchmark suite as one command, one table with a ``ratio`` column
(baseline time / razor_ext time), written as JSON and markdown.

Example:
    >>> from razor_ext.bench import BenchRow, format_table
    >>> print(format_table([BenchRow('op', '(4,)', 'float32', 'cpu', 1.0, 'eager', 2.0)]).splitlines()[1].split()[-2])
    2
"""
from razor_ext.bench.report import BenchRow, format_table, write_report
from razor_ext.bench.run import machine_info, run_bench
from razor_ext.bench.timing import copy_bandwidth, round_robin

__all__ = ['BenchRow', 'copy_bandwidth', 'format_table', 'machine_info', 'round_robin', 'run_bench',
           'write_report']
