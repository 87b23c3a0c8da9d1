"""Joint compression search: operators, channel widths and per-layer bit widths searched together
under a latency budget measured in the target runtime (onnxruntime, OpenVINO).

Above the techniques: it combines NAS (mutators, evolution search, sandwich training), the
channel widths of slimmable supernets and quantization (bit-width mutables, QDQ export).
"""
from razor_ext.joint.deploy import (UnitTimer, deployable_subnet, export_deployable, measure_subnet,
                                    quantize_static)
from razor_ext.joint.space import JointSearchSpace, default_units

__all__ = ['JointSearchSpace', 'UnitTimer', 'default_units', 'deployable_subnet', 'export_deployable',
           'measure_subnet', 'quantize_static']
