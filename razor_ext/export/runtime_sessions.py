"""One inference session per runtime (onnxruntime, OpenVINO) behind one small interface.

Both runtimes read the same ONNX file. A :class:`RuntimeSession` runs a list of numpy arrays
(the graph's inputs, in order) and returns the outputs as numpy arrays; ``threads`` is the
number of intra-op threads the runtime may use (stated, never left to the runtime's default,
so that timings say what they measured).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ['RUNTIMES', 'RuntimeSession', 'open_session', 'require_openvino']

RUNTIMES = ('onnxruntime', 'openvino')

_OPENVINO_HINT = ('OpenVINO is not installed: `pip install razor_ext[openvino]` (or '
                  '`pip install openvino`) adds it; it is an optional dependency')


def require_openvino() -> Any:
    """The ``openvino`` module, or an ImportError that says how to install it.

    Example:
        >>> try:
        ...     ov = require_openvino()
        ... except ImportError as err:
        ...     assert 'pip install' in str(err)
    """
    try:
        import openvino
    except ImportError as err:
        raise ImportError(_OPENVINO_HINT) from err
    return openvino


class RuntimeSession:
    """A compiled model of one runtime: ``session(arrays) -> outputs``.

    Args:
        path: an ONNX file (OpenVINO also reads its own ``.xml``).
        runtime: ``'onnxruntime'`` or ``'openvino'``.
        threads: intra-op threads (>= 1).
        config: extra runtime settings: OpenVINO properties (e.g.
            ``{'INFERENCE_PRECISION_HINT': 'f32'}``) or onnxruntime ``SessionOptions`` attributes
            (e.g. ``{'graph_optimization_level': ort.GraphOptimizationLevel.ORT_DISABLE_ALL}``).

    Attributes:
        precision: what the runtime computes float layers in (``'f32'``; OpenVINO may pick
            ``'bf16'`` or ``'f16'`` on CPUs that have them).

    Example:
        >>> import tempfile, pathlib, torch
        >>> from razor_ext.export import to_onnx
        >>> f = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / 'l.onnx')
        >>> RuntimeSession(f, 'onnxruntime', threads=1)([np.ones((5, 3), np.float32)])[0].shape
        (5, 2)
    """

    def __init__(self, path: str | os.PathLike[str], runtime: str = 'onnxruntime', threads: int = 1,
                 config: Mapping[str, Any] | None = None) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f'runtime must be one of {RUNTIMES}, got {runtime!r}')
        if not isinstance(threads, int) or threads < 1:
            raise ValueError(f'threads must be an int >= 1, got {threads!r}')
        self.path, self.runtime, self.threads = Path(path), runtime, threads
        if not self.path.is_file():
            raise FileNotFoundError(f'{self.path} does not exist')
        config = dict(config or {})
        if runtime == 'onnxruntime':
            self._open_onnxruntime(config)
        else:
            self._open_openvino(config)

    def _open_onnxruntime(self, config: dict[str, Any]) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        for key, value in config.items():
            if not hasattr(opts, key):
                raise ValueError(f'onnxruntime SessionOptions has no setting {key!r}')
            setattr(opts, key, value)
        session = ort.InferenceSession(str(self.path), opts, providers=['CPUExecutionProvider'])
        self.input_names = [i.name for i in session.get_inputs()]
        self.precision = 'f32'
        self._run_ort = session.run

    def _open_openvino(self, config: dict[str, Any]) -> None:
        ov = require_openvino()
        core = ov.Core()
        props: dict[str, Any] = {'INFERENCE_NUM_THREADS': self.threads, 'PERFORMANCE_HINT': 'LATENCY',
                                 'NUM_STREAMS': 1}
        props.update(config)
        compiled = core.compile_model(core.read_model(str(self.path)), 'CPU', props)
        self.input_names = [p.get_any_name() for p in compiled.inputs]
        hint = compiled.get_property('INFERENCE_PRECISION_HINT')
        self.precision = hint.to_string() if hasattr(hint, 'to_string') else str(hint)
        self._request = compiled.create_infer_request()
        self._n_outputs = len(compiled.outputs)

    def _check(self, arrays: Sequence[np.ndarray]) -> None:
        if len(arrays) != len(self.input_names):
            raise ValueError(f'{self.path} has {len(self.input_names)} inputs ({self.input_names}) '
                             f'but {len(arrays)} arrays were given')

    def __call__(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        self._check(arrays)
        if self.runtime == 'onnxruntime':
            return list(self._run_ort(None, dict(zip(self.input_names, arrays))))
        results = self._request.infer(list(arrays))
        # copies: the request reuses its output buffers on the next call
        return [np.array(results[i]) for i in range(self._n_outputs)]

    def run_only(self, arrays: Sequence[np.ndarray]) -> None:
        """Run on ``arrays`` and leave the outputs in the runtime's buffers: what a timing loop
        calls.

        Why: copying a large output out costs page faults whose number follows the allocator's
        history, not the model. OpenVINO, 2-core AMD EPYC, one thread: one conv with a
        ``(8, 16, 28, 28)`` output read 0.31-0.56 ms per call with its outputs copied, by what ran
        before it, and 0.21-0.23 ms without the copy.

        Example:
            >>> import tempfile, pathlib, torch
            >>> from razor_ext.export import to_onnx
            >>> f = to_onnx(torch.nn.Linear(3, 2), torch.randn(1, 3), pathlib.Path(tempfile.mkdtemp()) / 'l.onnx')
            >>> RuntimeSession(f, 'onnxruntime', threads=1).run_only([np.ones((5, 3), np.float32)])
        """
        self._check(arrays)
        if self.runtime == 'onnxruntime':
            self._run_ort(None, dict(zip(self.input_names, arrays)))
        else:
            # outputs stay in the request's buffers; inputs are still copied in: shared, the
            # request would keep the caller's array as its input buffer and a later call
            # would write its inputs into it
            self._request.infer(list(arrays), share_outputs=True)


def open_session(path: str | os.PathLike[str], runtime: str = 'onnxruntime', threads: int = 1,
                 config: Mapping[str, Any] | None = None) -> RuntimeSession:
    """:class:`RuntimeSession` for ``path`` (a function, for symmetry with the runtimes' APIs)."""
    return RuntimeSession(path, runtime, threads, config)
