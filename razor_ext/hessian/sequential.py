"""Block-by-block calibration: feed a model's calibration batches up to its first block, then
walk the blocks, holding one block's inputs at a time. In each block every target layer's
Hessian is accumulated from the block's inputs, the caller compresses the layers, and the block
is run again so the next block sees the compressed block's outputs (as GPTQ / SparseGPT do).
A model without a block list (a CNN) is one block: all its layers see the float inputs."""
from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.hessian.accumulator import HessianAccumulator

# layer_fn(qualified_name, layer, hessian) -> the module that replaces ``layer`` (or ``layer``).
LayerFn = Callable[[str, nn.Module, Tensor], nn.Module]


_CACHE_KWARGS = ("past_key_values", "past_key_value", "layer_past")


class _StopForward(Exception):
    """Raised by the hook on the first block once its inputs are captured."""


def find_blocks(model: nn.Module) -> tuple[str, nn.ModuleList] | None:
    """The ``nn.ModuleList`` of repeated blocks (transformer layers) holding most parameters, or
    ``None``. Hugging Face decoders give ``model.layers`` (Llama, Qwen2, Mistral) or
    ``model.decoder.layers`` (OPT).

    Example:
        >>> m = nn.Sequential(nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]))
        >>> find_blocks(m)[0]
        '0'
    """
    best = None
    best_params = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 1:
            params = sum(p.numel() for p in module.parameters())
            if params > best_params:
                best, best_params = (name, module), params
    return best


def target_layers(root: nn.Module, prefix: str, patterns: Sequence[str] | None) -> dict[str, nn.Module]:
    """Linear and (groups=1) Conv2d layers under ``root`` whose qualified name (``prefix.name``)
    matches one of the ``fnmatch`` patterns (all of them when ``patterns`` is None).

    Example:
        >>> list(target_layers(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), 'net', None))
        ['net.0']
    """
    found = {}
    for name, module in root.named_modules():
        full = f"{prefix}.{name}" if prefix and name else (prefix or name)
        if isinstance(module, nn.Linear) or (isinstance(module, nn.Conv2d) and module.groups == 1):
            if patterns is None or any(fnmatch.fnmatchcase(full, p) for p in patterns):
                found[full] = module
    return found


def _call(model: nn.Module, batch: Any) -> Any:
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def _capture_block_inputs(model: nn.Module, first: nn.Module, batches: Iterable[Any]) -> list:
    captured = []

    def grab(_module, args, kwargs):
        # Hugging Face decoders pass a KV cache: replaying a block over the same inputs must not
        # grow it, so the captured calls run without one.
        kwargs = {key: (None if key in _CACHE_KWARGS else value) for key, value in kwargs.items()}
        if "use_cache" in kwargs:
            kwargs["use_cache"] = False
        captured.append((args, kwargs))
        raise _StopForward

    handle = first.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        for batch in batches:
            try:
                _call(model, batch)
            except _StopForward:
                pass
    finally:
        handle.remove()
    return captured


def _hidden(output: Any) -> Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


def _with_hidden(args: tuple, kwargs: dict, hidden: Tensor) -> tuple[tuple, dict]:
    if args:
        return (hidden, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": hidden}


def set_module(root: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule ``name`` (dotted path) of ``root`` with ``new``.

    Example:
        >>> m = nn.Sequential(nn.Linear(2, 2)); set_module(m, '0', nn.Identity()); m
        Sequential(
          (0): Identity()
        )
    """
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def replace_without_calibration(model: nn.Module, layer_fn: LayerFn,
                                layers: Sequence[str] | None = None) -> nn.Module:
    """Apply ``layer_fn(name, layer, None)`` to every target layer (no Hessian: the round-to-
    nearest and magnitude baselines), in place, and return ``model``.

    Example:
        >>> m = nn.Sequential(nn.Linear(2, 2))
        >>> replace_without_calibration(m, lambda name, layer, h: nn.Identity())
        Sequential(
          (0): Identity()
        )
    """
    blocks = find_blocks(model)
    root, prefix = (model, "") if blocks is None else (blocks[1], blocks[0])
    with torch.no_grad():
        for name, layer in target_layers(root, prefix, layers).items():
            set_module(model, name, layer_fn(name, layer, None))
    return model


def _compress(model: nn.Module, layers: dict[str, nn.Module], run: Callable[[], None],
              layer_fn: LayerFn, bar: Any) -> None:
    accumulators = {name: HessianAccumulator(layer) for name, layer in layers.items()}
    handles = [acc.hook() for acc in accumulators.values()]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    for name, acc in accumulators.items():
        new = layer_fn(name, acc.layer, acc.hessian)
        del acc.hessian
        if new is not acc.layer:
            set_module(model, name, new)
        if bar is not None:
            bar.update(1)


@torch.no_grad()
def sequential_calibrate(model: nn.Module, calib_batches: Iterable[Any], layer_fn: LayerFn,
                         layers: Sequence[str] | None = None, progress: bool | None = None,
                         desc: str = "layers") -> nn.Module:
    """Compress ``model``'s layers in place with ``layer_fn``, block by block.

    Args:
        model: any module; its block list is found by :func:`find_blocks`.
        calib_batches: inputs, each a tensor, a tuple of positional args or a dict of kwargs.
        layer_fn: ``(name, layer, hessian) -> module`` compressing one layer.
        layers: ``fnmatch`` patterns of qualified layer names to compress (default: every
            linear / conv inside the blocks, or in the whole model when it has none).
        progress: a tqdm bar over layers (default: when stderr is a terminal).

    Returns:
        ``model``.

    Example:
        >>> m = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> seen = []
        >>> _ = sequential_calibrate(m, [torch.randn(8, 4)], lambda n, l, h: seen.append(n) or l)
        >>> seen
        ['0', '2']
    """
    from tqdm.auto import tqdm

    batches = list(calib_batches)
    if not batches:
        raise ValueError("sequential_calibrate: calib_batches is empty")
    if progress is None:
        progress = sys.stderr.isatty()
    was_training = model.training
    model.eval()
    blocks = find_blocks(model)
    try:
        if blocks is None:
            found = target_layers(model, "", layers)
            bar = tqdm(total=len(found), desc=desc) if progress else None
            _compress(model, found, lambda: [_call(model, b) for b in batches], layer_fn, bar)
        else:
            prefix, block_list = blocks
            inputs = _capture_block_inputs(model, block_list[0], batches)
            per_block = [target_layers(b, f"{prefix}.{i}", layers) for i, b in enumerate(block_list)]
            bar = tqdm(total=sum(map(len, per_block)), desc=desc) if progress else None
            for block, found in zip(block_list, per_block):
                _compress(model, found, lambda: [block(*a, **k) for a, k in inputs], layer_fn, bar)
                inputs = [_with_hidden(a, k, _hidden(block(*a, **k))) for a, k in inputs]
        if bar is not None:
            bar.close()
    finally:
        model.train(was_training)
    return model
