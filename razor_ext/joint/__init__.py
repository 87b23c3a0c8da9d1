"""Joint compression search: operators, channel widths and per-layer bit widths searched together
under a latency budget measured in the target runtime (onnxruntime, OpenVINO).

Above the techniques: it combines NAS (mutators, evolution search, sandwich training), the
channel widths of slimmable supernets and quantization (bit-width mutables, QDQ export).
"""
from razor_ext.joint.algorithm import JointCompression
from razor_ext.joint.bit_pairs import RUNTIME_BIT_PAIRS, bit_pairs_for
from razor_ext.joint.deploy import (deployable_subnet, export_deployable, measure_subnet,
                                    quantize_static)
from razor_ext.joint.latency import PredictionCheck, build_latency_table, check_prediction
from razor_ext.joint.pareto import pareto_front, plot_fronts
from razor_ext.joint.search import (CompressionResult, FinalCandidate, calibrate_supernet,
                                    search_compression)
from razor_ext.joint.space import JointSearchSpace, default_units
from razor_ext.joint.unit_timer import UnitTimer

__all__ = ['CompressionResult', 'FinalCandidate', 'JointCompression', 'JointSearchSpace',
           'RUNTIME_BIT_PAIRS', 'bit_pairs_for',
           'PredictionCheck', 'UnitTimer', 'build_latency_table', 'calibrate_supernet',
           'check_prediction', 'default_units', 'deployable_subnet', 'export_deployable',
           'measure_subnet', 'pareto_front', 'plot_fronts', 'quantize_static', 'search_compression']
