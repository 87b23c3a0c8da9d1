"""Data preprocessors: turn a loader batch into the ``{'inputs', 'data_samples'}`` dict.

Example:
    >>> import torch
    >>> pre = ImgDataPreprocessor(mean=[127.5], std=[127.5])
    >>> out = pre((torch.full((1, 1, 2, 2), 255, dtype=torch.uint8), torch.tensor([3])))
    >>> out['inputs'].flatten().tolist(), out['data_samples'].tolist()
    ([1.0, 1.0, 1.0, 1.0], [3])
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from razor_ext.registry import MODELS

__all__ = ['BaseDataPreprocessor', 'ImgDataPreprocessor', 'to_data_dict', 'move_to_device']

_DATA_KEYS = ('inputs', 'data_samples')


def to_data_dict(data: Any) -> dict[str, Any]:
    """Normalise a batch to ``{'inputs': ..., 'data_samples': ...}``.

    Accepts that dict form (``data_samples`` optional) or an ``(inputs, targets)`` tuple/list.
    Other keys are rejected rather than dropped, so a typo such as ``'targets'`` cannot
    silently train without labels.

    Raises:
        TypeError: ``data`` is neither form.
        KeyError: the dict lacks ``inputs`` or has other keys.

    Example:
        >>> to_data_dict((1, 2))
        {'inputs': 1, 'data_samples': 2}
    """
    if isinstance(data, Mapping):
        if 'inputs' not in data:
            raise KeyError(f"data dict must have an 'inputs' key, got keys {sorted(data)}")
        extra = sorted(set(data) - set(_DATA_KEYS))
        if extra:
            raise KeyError(f"data dict may only have the keys {list(_DATA_KEYS)}, got extra "
                           f"keys {extra}")
        return {'inputs': data['inputs'], 'data_samples': data.get('data_samples')}
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise TypeError(f'tuple/list data must be (inputs, targets), got {len(data)} '
                            f'elements')
        return {'inputs': data[0], 'data_samples': data[1]}
    raise TypeError(f"data must be a dict {{'inputs': ..., 'data_samples': ...}} or an "
                    f"(inputs, targets) tuple/list, got {type(data).__name__}")


def move_to_device(obj: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move every tensor in ``obj`` (nested in dicts, lists, tuples) to ``device``.

    Other objects with a ``to`` method (e.g. MMEngine data samples) are moved with it;
    everything else is returned as is.

    Example:
        >>> move_to_device({'x': [torch.ones(1)]}, torch.device('meta'))['x'][0].device
        device(type='meta')
    """
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, Mapping):
        return {k: move_to_device(v, device, non_blocking) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, '_fields'):  # namedtuple
        return type(obj)(*(move_to_device(v, device, non_blocking) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(move_to_device(v, device, non_blocking) for v in obj)
    if isinstance(obj, nn.Module):
        return obj  # never move (and so mutate) a module handed in as data
    to = getattr(obj, 'to', None)
    if callable(to):
        return to(device)
    return obj


def _module_device(module: nn.Module) -> torch.device:
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device('cpu')


@MODELS.register_module()
class BaseDataPreprocessor(nn.Module):
    """Bring a batch to the dict form and move it to the model's device.

    Call it as ``pre(data, training=False, device=None)``: ``data`` is a dict
    ``{'inputs', 'data_samples'}`` or an ``(inputs, targets)`` tuple; ``device`` is where the
    model lives (:class:`~razor_ext.algorithm.BaseAlgorithm` passes its own), defaulting
    to the device of this module's buffers, else CPU.

    Args:
        non_blocking: Passed to ``Tensor.to``; useful with pinned-memory loaders on GPU.

    Example:
        >>> import torch
        >>> pre = BaseDataPreprocessor()
        >>> out = pre({'inputs': torch.ones(2, 3)}, device=torch.device('meta'))
        >>> out['inputs'].device, out['data_samples']
        (device(type='meta'), None)
    """

    def __init__(self, non_blocking: bool = False) -> None:
        super().__init__()
        self.non_blocking = non_blocking

    def forward(self, data: Any, training: bool = False,
                device: torch.device | str | None = None) -> dict[str, Any]:
        """Return ``{'inputs', 'data_samples'}`` on ``device``; ``training`` is for subclasses."""
        data = to_data_dict(data)
        target = torch.device(device) if device is not None else _module_device(self)
        return {k: move_to_device(v, target, self.non_blocking) for k, v in data.items()}


def _channel_stats(name: str, values: Sequence[float] | torch.Tensor) -> torch.Tensor:
    tensor = torch.as_tensor(values, dtype=torch.float32)
    if tensor.ndim != 1 or tensor.numel() == 0:
        raise ValueError(f'{name} must be a non-empty sequence of per-channel numbers, got '
                         f'{values!r}')
    return tensor


@MODELS.register_module()
class ImgDataPreprocessor(BaseDataPreprocessor):
    """Also cast ``uint8`` images to float and normalise ``(x - mean) / std`` over dim 1.

    ``inputs`` must be a tensor shaped ``(N, C, ...)`` (or a list of same-shape ``(C, ...)``
    tensors, which is stacked). ``mean``/``std`` hold one value per channel, or one value for
    all channels. ``uint8`` inputs are cast to the default float dtype first; other integer
    inputs (token ids, say) are left as they are, since normalising them makes no sense.

    Args:
        mean: Per-channel means, or None for no normalisation (then std must be None too).
        std: Per-channel standard deviations; must be non-zero.
        non_blocking: See :class:`BaseDataPreprocessor`.
        bgr_to_rgb, rgb_to_bgr: reverse the 3 channels (dim 1) first, as MMEngine's option
            (images loaded in BGR order, normalised with RGB statistics).
        pad_size_divisor, pad_value: MMEngine's padding keys; only the no-op ``1`` is supported
            (classification batches are cropped to one size).

    Raises:
        ValueError: only one of mean/std given, lengths differ, a zero std, or (when called)
            a channel count that does not match.

    Example:
        >>> import torch
        >>> pre = ImgDataPreprocessor(mean=[1.0, 2.0], std=[2.0, 4.0])
        >>> pre({'inputs': torch.tensor([[3.0, 6.0]])})['inputs']
        tensor([[1., 1.]])
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 non_blocking: bool = False, bgr_to_rgb: bool = False, rgb_to_bgr: bool = False,
                 pad_size_divisor: int = 1, pad_value: float = 0) -> None:
        super().__init__(non_blocking=non_blocking)
        if pad_size_divisor != 1:
            raise ValueError(f'pad_size_divisor={pad_size_divisor} is not supported (only 1)')
        self.swap_channels = bool(bgr_to_rgb or rgb_to_bgr)
        if (mean is None) != (std is None):
            raise ValueError('mean and std must be given together (or both be None)')
        self._normalize = mean is not None
        if mean is not None and std is not None:
            mean_t, std_t = _channel_stats('mean', mean), _channel_stats('std', std)
            if mean_t.numel() != std_t.numel():
                raise ValueError(f'mean has {mean_t.numel()} values but std has '
                                 f'{std_t.numel()}')
            if bool((std_t == 0).any()):
                raise ValueError(f'std must be non-zero, got {std_t.tolist()}')
        else:
            mean_t = std_t = torch.empty(0)
        # Buffers follow .to()/.cuda() of the algorithm; not persistent, as they come from
        # the config rather than training, so they stay out of checkpoints.
        self.register_buffer('mean', mean_t, persistent=False)
        self.register_buffer('std', std_t, persistent=False)

    def forward(self, data: Any, training: bool = False,
                device: torch.device | str | None = None) -> dict[str, Any]:
        """Move to ``device`` (see the base class), then cast and normalise ``inputs``."""
        data = to_data_dict(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)) and inputs and all(
                isinstance(t, torch.Tensor) for t in inputs):
            shapes = {tuple(t.shape) for t in inputs}
            if len(shapes) != 1:
                raise ValueError(f'cannot stack inputs of different shapes {sorted(shapes)}; '
                                 f'resize or pad them in the dataset')
            inputs = torch.stack(list(inputs))
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f'ImgDataPreprocessor expects inputs to be a tensor (N, C, ...) or '
                            f'a list of (C, ...) tensors, got {type(inputs).__name__}')
        data = super().forward({'inputs': inputs, 'data_samples': data['data_samples']},
                               training, device)
        inputs = data['inputs']
        if self.swap_channels and inputs.ndim >= 2 and inputs.shape[1] == 3:
            inputs = inputs.flip(1)
        if inputs.dtype == torch.uint8:
            inputs = inputs.to(torch.get_default_dtype())
        if self._normalize and inputs.is_floating_point():
            inputs = self._normalize_channels(inputs)
        data['inputs'] = inputs
        return data

    def _normalize_channels(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.ndim < 2:
            raise ValueError(f'inputs must have a channel dim (N, C, ...) to normalise, got '
                             f'shape {tuple(inputs.shape)}')
        channels, n_stats = inputs.shape[1], self.mean.numel()
        if n_stats not in (1, channels):
            raise ValueError(f'mean/std have {n_stats} values but inputs have {channels} '
                             f'channels (dim 1 of shape {tuple(inputs.shape)})')
        view = (1, -1) + (1,) * (inputs.ndim - 2)  # broadcast over N and spatial dims
        mean = self.mean.to(inputs.device, inputs.dtype).view(view)
        std = self.std.to(inputs.device, inputs.dtype).view(view)
        return (inputs - mean) / std
