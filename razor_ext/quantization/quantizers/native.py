"""``NativeQuantizer``: prepare any ``torch.fx``-traceable model for PTQ/QAT and QDQ export.

The quantizer traces the model (modules named in ``skip`` stay opaque leaves), folds BatchNorm
into the conv before it, gives conv/linear weights a fake quant, and places activation fake
quants where an ONNX QDQ backend (onnxruntime) expects them: on the inputs of quantized
conv/linear/matmul/add nodes and, with ``quantize_outputs``, after their outputs (after a
following BatchNorm/ReLU, which a backend fuses).
"""
from __future__ import annotations

import inspect

import copy
import operator
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from razor_ext.quantization.fake_quantize import FakeQuantize
from razor_ext.quantization.quantizers.qat_modules import WEIGHT_QUANT_TYPES, to_weight_quantized
from razor_ext.registry import MODELS

__all__ = ['NativeQuantizer', 'SkipSpec']

SkipSpec = Iterable['str | type[nn.Module]']

_ACTIVATION_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardtanh)
_ACTIVATION_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, 'relu', 'relu_'}
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
# Ops whose output is an input rearranged (or max-pooled): a quantized input stays quantized.
_TRANSPARENT_MODULES = (nn.Flatten, nn.Identity, nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
                        nn.Unflatten)
_TRANSPARENT_FUNCTIONS = {torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.squeeze,
                          torch.unsqueeze, F.dropout, F.max_pool2d, F.max_pool1d, operator.getitem,
                          'flatten', 'reshape', 'view', 'permute', 'transpose', 'contiguous',
                          'squeeze', 'unsqueeze', 'chunk', 'split'}
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add, 'add', 'add_'}
_MATMUL_FUNCTIONS = {operator.matmul, torch.matmul, torch.bmm, 'matmul', 'bmm'}


def _type_name(cls: type) -> str:
    return f'type:{cls.__module__}.{cls.__qualname__}'


class _SkipTracer(fx.Tracer):
    def __init__(self, skip_names: Sequence[str], skip_types: tuple[type, ...]) -> None:
        super().__init__()
        self.skip_names, self.skip_types = skip_names, skip_types

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, self.skip_types) or qualname in self.skip_names:
            return True
        return super().is_leaf_module(m, qualname)


@MODELS.register_module()
class NativeQuantizer:
    """The onnxruntime QDQ backend (the default, and the one verified here).

    Args:
        qconfig: a :class:`~razor_ext.quantization.QConfig`, preset name or dict.
        skip: module names (a name also skips everything under it) or types left float.
        global_qconfig: MMRazor's observer / fake-quant / qscheme dict (used when ``qconfig`` is None);
            tracer, no_observer_modules: MMRazor's fx tracing keys, accepted and kept.
        fold_bn: fold BatchNorm into the preceding conv. PTQ: always sensible. QAT: trains the
            folded conv (BN statistics frozen at their current values); False keeps BN float.

    Example:
        >>> import torch
        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        >>> q = NativeQuantizer('int8').prepare(model, torch.randn(1, 3, 8, 8))
        >>> [type(m).__name__ for m in q.children()]
        ['QConv2d', 'ReLU', 'FakeQuantize', 'FakeQuantize']
    """

    default_qconfig = 'int8_per_channel'
    quantize_outputs = True

    def __init__(self, qconfig: Any = None, skip: SkipSpec = (), fold_bn: bool = True,
                 global_qconfig: Any = None, tracer: Any = None, no_observer_modules: Any = None) -> None:
        from razor_ext.quantization.mmrazor_qconfig import qconfig_from_global
        from razor_ext.quantization.qconfig import as_qconfig

        # MMRazor's keys: global_qconfig (observer / fake-quant / qscheme dicts); tracer and
        # no_observer_modules configure torch.fx tracing, which razor_ext does its own way.
        if global_qconfig is not None and qconfig is None:
            qconfig = qconfig_from_global(global_qconfig)
        self.tracer_cfg, self.no_observer_modules = tracer, no_observer_modules
        self.qconfig = as_qconfig(self.default_qconfig if qconfig is None else qconfig)
        self.skip = tuple(skip)
        for item in self.skip:
            if not isinstance(item, (str, type)):
                raise TypeError(f'skip entries must be module names or types, got {item!r}')
        self.fold_bn = bool(fold_bn)

    # ---------------------------------------------------------------- skip / qconfig lookups
    def _skipped(self, name: str, module: nn.Module | None) -> bool:
        for item in self.skip:
            if isinstance(item, str) and (name == item or name.startswith(item + '.')):
                return True
            if isinstance(item, type) and module is not None and isinstance(module, item):
                return True
        return False

    def _config_for(self, gm: fx.GraphModule, node: fx.Node) -> Any:
        if node.op == 'call_module':
            module = gm.get_submodule(node.target)
            if self._skipped(node.target, module):
                return None
            return self.qconfig.for_module(node.target, module)
        return self.qconfig.for_module(node.name, nn.Module())

    # ---------------------------------------------------------------- prepare
    def prepare(self, model: nn.Module, example_inputs: Any, mode: str = 'ptq') -> fx.GraphModule:
        """A fake-quantized copy of ``model`` (``model`` itself is not modified).

        Args:
            model: an ``nn.Module`` that ``torch.fx.symbolic_trace`` can trace (skipped modules
                are not traced into).
            example_inputs: ``(B, ...)`` tensor or tuple of tensors; run once to check the result.
            mode: ``'ptq'`` (eval mode) or ``'qat'`` (train mode).

        Returns:
            a ``torch.fx.GraphModule`` holding ``FakeQuantize`` modules, with a
            ``razor_quant_recipe`` attribute (what :func:`razor_ext.quantization.save` stores).
        """
        if mode not in ('ptq', 'qat'):
            raise ValueError(f"mode must be 'ptq' or 'qat', got {mode!r}")
        if not isinstance(model, nn.Module):
            raise TypeError(f'model must be an nn.Module, got {type(model).__name__}')
        model = copy.deepcopy(model)
        model.eval()
        skip_names = [s for s in self.skip if isinstance(s, str)]
        skip_types = tuple(s for s in self.skip if isinstance(s, type))
        for name in skip_names:
            try:
                model.get_submodule(name)
            except AttributeError:
                raise ValueError(f'skip names a module {name!r} that the model does not have') from None
        tracer = _SkipTracer(skip_names, skip_types)
        # OpenMMLab models (ImageClassifier) take forward(inputs, data_samples, mode): trace the
        # 'tensor' mode, the one that yields logits.
        params = inspect.signature(model.forward).parameters
        concrete = {k: v for k, v in (('data_samples', None), ('mode', 'tensor')) if k in params}
        try:
            graph = tracer.trace(model, concrete_args=concrete or None)
        except Exception as err:  # fx raises many types for untraceable code
            raise TypeError(f'{type(model).__name__} cannot be traced by torch.fx ({err}); put the '
                            f'untraceable part in `skip` or make it traceable') from err
        gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
        if self.fold_bn:
            self._fold_bn(gm)
            gm.delete_all_unused_submodules()
        weighted = self._quantize_weights(gm, mode)
        self._place_activation_quants(gm, weighted, mode)
        gm.graph.lint()
        gm.recompile()
        gm.train(mode == 'qat')
        gm.razor_quant_recipe = self._recipe(mode, example_inputs)
        with torch.no_grad():  # observe nothing: just check the prepared graph runs
            states = [(fq, bool(fq.observer_enabled), bool(fq.fake_quant_enabled))
                      for fq in gm.modules() if isinstance(fq, FakeQuantize)]
            for fq, _, _ in states:
                fq.observer_enabled.fill_(False)
                fq.fake_quant_enabled.fill_(False)
            gm(*_as_tuple(example_inputs))
            for fq, obs, fake in states:
                fq.observer_enabled.fill_(obs)
                fq.fake_quant_enabled.fill_(fake)
        return gm

    def _recipe(self, mode: str, example_inputs: Any) -> dict[str, Any]:
        return dict(quantizer=type(self).__name__, qconfig=self.qconfig.to_dict(), mode=mode,
                    skip=[s if isinstance(s, str) else _type_name(s) for s in self.skip],
                    fold_bn=self.fold_bn,
                    inputs=[dict(shape=list(t.shape), dtype=str(t.dtype).replace('torch.', ''))
                            for t in _as_tuple(example_inputs)])

    def _fold_bn(self, gm: fx.GraphModule) -> None:
        for node in list(gm.graph.nodes):
            if node.op != 'call_module' or not isinstance(gm.get_submodule(node.target), _BN_TYPES):
                continue
            prev = node.args[0]
            if not (isinstance(prev, fx.Node) and prev.op == 'call_module' and len(prev.users) == 1):
                continue
            conv = gm.get_submodule(prev.target)
            bn = gm.get_submodule(node.target)
            if type(conv) not in (nn.Conv1d, nn.Conv2d, nn.Conv3d):
                continue
            if self._skipped(prev.target, conv) or self._skipped(node.target, bn):
                continue
            if not bn.track_running_stats or bn.running_mean is None:
                continue
            _set_submodule(gm, prev.target, fuse_conv_bn_eval(conv.eval(), bn.eval()))
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)

    def _quantize_weights(self, gm: fx.GraphModule, mode: str) -> set[fx.Node]:
        weighted = set()
        for node in gm.graph.nodes:
            if node.op != 'call_module':
                continue
            module = gm.get_submodule(node.target)
            if type(module) not in WEIGHT_QUANT_TYPES:
                continue
            cfg = self._config_for(gm, node)
            if cfg is None or cfg.weight is None:
                continue
            fq = cfg.weight.build(mode, ch_axis=0)
            fq.module_name = f'{node.target}.weight'
            _set_submodule(gm, node.target, to_weight_quantized(module, fq))
            weighted.add(node)
        return weighted

    # ---------------------------------------------------------------- activations
    def _place_activation_quants(self, gm: fx.GraphModule, weighted: set[fx.Node], mode: str) -> None:
        self._act_fq: dict[fx.Node, fx.Node] = {}
        self._quantized: set[fx.Node] = set()
        tails: dict[fx.Node, Any] = {}
        for node in list(gm.graph.nodes):
            if node in weighted:
                inputs = [node.args[0]]
            elif _is_function(node, _ADD_FUNCTIONS) or _is_function(node, _MATMUL_FUNCTIONS):
                inputs = [a for a in node.args[:2] if isinstance(a, fx.Node)]
                if len(inputs) != 2:
                    continue
            else:
                continue
            cfg = self._config_for(gm, node)
            if cfg is None or cfg.activation is None:
                continue
            for arg in inputs:
                self._ensure_quantized(gm, node, arg, cfg.activation, mode)
            tail = self._fused_tail(gm, node)
            if self.quantize_outputs:
                self._quantize_after(gm, tail, cfg.activation, mode)
            tails[tail] = cfg.activation
        # Model outputs are quantized by every backend: export verification measures in output steps.
        output = next(n for n in gm.graph.nodes if n.op == 'output')
        for arg in output.all_input_nodes:
            if arg in tails:
                self._quantize_after(gm, arg, tails[arg], mode)

    def _fused_tail(self, gm: fx.GraphModule, node: fx.Node) -> fx.Node:
        """The last node of ``node`` -> [BatchNorm] -> [ReLU-like] when each has one user."""
        for kinds in (_BN_TYPES, _ACTIVATION_MODULES):
            users = list(node.users)
            if len(users) != 1:
                return node
            user = users[0]
            if user.op == 'call_module' and isinstance(gm.get_submodule(user.target), kinds) \
                    and not self._skipped(user.target, gm.get_submodule(user.target)):
                node = user
            elif kinds is _ACTIVATION_MODULES and _is_function(user, _ACTIVATION_FUNCTIONS):
                node = user
        return node

    def _origin_quantized(self, gm: fx.GraphModule, node: fx.Node) -> bool:
        while True:
            if node in self._quantized:
                return True
            transparent = (node.op == 'call_module'
                           and isinstance(gm.get_submodule(node.target), _TRANSPARENT_MODULES)) \
                or _is_function(node, _TRANSPARENT_FUNCTIONS)
            if not transparent or not node.args or not isinstance(node.args[0], fx.Node):
                return False
            node = node.args[0]

    def _ensure_quantized(self, gm: fx.GraphModule, consumer: fx.Node, arg: fx.Node, scheme: Any,
                          mode: str) -> None:
        if self._origin_quantized(gm, arg):
            return
        fq_node = self._quantize_after(gm, arg, scheme, mode)
        consumer.replace_input_with(arg, fq_node)

    def _quantize_after(self, gm: fx.GraphModule, node: fx.Node, scheme: Any, mode: str) -> fx.Node:
        """A fake quant on ``node``'s output, used by all of ``node``'s users (one per node)."""
        if node in self._act_fq:
            return self._act_fq[node]
        if node in self._quantized:
            return node
        name = f'{node.name}_act_fake_quant'
        fq = scheme.build(mode, ch_axis=1)
        fq.module_name = f'{node.name} (activation)'
        gm.add_submodule(name, fq)
        users = list(node.users)
        with gm.graph.inserting_after(node):
            fq_node = gm.graph.call_module(name, (node,))
        for user in users:
            user.replace_input_with(node, fq_node)
        self._act_fq[node] = fq_node
        self._quantized.add(fq_node)
        return fq_node


def _is_function(node: fx.Node, targets: set[Any]) -> bool:
    if node.op == 'call_function':
        return node.target in targets
    if node.op == 'call_method':
        return node.target in targets
    return False


def _set_submodule(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    parent_name, _, attr = target.rpartition('.')
    parent = gm.get_submodule(parent_name) if parent_name else gm
    setattr(parent, attr, module)


def _as_tuple(example_inputs: Any) -> tuple[torch.Tensor, ...]:
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, (list, tuple)) and all(isinstance(t, torch.Tensor)
                                                         for t in example_inputs):
        return tuple(example_inputs)
    raise TypeError(f'example_inputs must be a tensor or a tuple of tensors, got '
                    f'{type(example_inputs).__name__}')
