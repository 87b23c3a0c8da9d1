"""``BaseAlgorithm``: an architecture plus algorithm components, driven by any training loop.

Example:
    >>> import torch
    >>> from torch import nn
    >>> algo = BaseAlgorithm(nn.Linear(4, 3))
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> sorted(algo(x, y, mode='loss')), algo(x, mode='predict').shape
    (['loss'], torch.Size([8]))
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from razor_ext.algorithm.data_preprocessor import BaseDataPreprocessor
from razor_ext.registry import MODELS

__all__ = ['BaseAlgorithm']

LossDict = Mapping[str, torch.Tensor | Sequence[torch.Tensor]]

class _CallStyle(NamedTuple):
    takes_mode: bool  # forward accepts a `mode` keyword: an MMEngine-style model
    samples_by_keyword: bool  # pass data_samples=...; else as the second positional argument


def _signature_call_style(forward: Callable[..., Any]) -> _CallStyle:
    try:
        params = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):  # builtins and some C callables have no signature
        return _CallStyle(False, False)
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)

    def by_keyword(name: str) -> bool:
        return var_kw or any(p.name == name and p.kind != p.POSITIONAL_ONLY for p in params)

    return _CallStyle(by_keyword('mode'), by_keyword('data_samples'))


# Cached per underlying function: a signature never changes, and inspecting it on every
# forward would cost more than a small model's forward.
_cached_call_style = functools.lru_cache(maxsize=256)(_signature_call_style)


def _call_style(module: nn.Module) -> _CallStyle:
    """How to call ``module``: see :class:`_CallStyle`."""
    # Wrappers forward (*args, **kwargs) to the real model: look at the model they wrap.
    while True:
        if isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            module = module.module
        elif isinstance(getattr(module, '_orig_mod', None), nn.Module):  # torch.compile
            module = module._orig_mod
        else:
            break
    forward = module.forward
    forward = getattr(forward, '__func__', forward)  # share the cache across instances
    try:
        return _cached_call_style(forward)
    except TypeError:  # an unhashable callable
        return _signature_call_style(forward)


def _build_module(cfg: nn.Module | Mapping[str, Any], what: str) -> nn.Module:
    if isinstance(cfg, nn.Module):
        return cfg
    if isinstance(cfg, Mapping):
        module = MODELS.build(cfg)
        if not isinstance(module, nn.Module):
            raise TypeError(f'{what} config built a {type(module).__name__}, not an nn.Module')
        return module
    raise TypeError(f'{what} must be an nn.Module or a config dict, got {type(cfg).__name__}')


@MODELS.register_module()
class BaseAlgorithm(nn.Module):
    """Base class of all algorithms: wraps an ``architecture`` and dispatches on ``mode``.

    ``forward(inputs, data_samples=None, mode='tensor')`` calls ``loss`` (mode ``'loss'``),
    ``_forward`` (``'tensor'``) or ``_predict`` (``'predict'``). By default these delegate to
    the architecture:

    * an architecture whose ``forward`` takes ``mode`` (or ``**kwargs``) is called as
      ``architecture(inputs, data_samples=data_samples, mode=mode)`` - the MMEngine model
      contract (``data_samples`` goes positionally if ``forward`` has no parameter of that
      name);
    * a plain module is adapted: ``'tensor'`` returns ``architecture(inputs)``, ``'loss'``
      returns ``{'loss': loss_fn(output, data_samples)}`` (``data_samples`` is then the
      target tensor) and ``'predict'`` returns ``output.argmax(1)`` for floating outputs with
      at least 2 dims when ``loss_fn`` is the default cross-entropy (classification logits
      ``(N, C)`` or ``(N, C, H, W)``), and the raw output otherwise (a custom ``loss_fn``
      means a head we cannot interpret: override ``_predict`` for it).

    Subclasses override ``loss`` (and ``train_step`` when one step needs several forwards).

    Args:
        architecture: The model, or a config dict built with ``MODELS``.
        data_preprocessor: A module or ``MODELS`` config dict mapping a batch to
            ``{'inputs', 'data_samples'}``; None means a :class:`BaseDataPreprocessor`, which
            only moves the batch to this algorithm's device. A module that is not a
            ``BaseDataPreprocessor`` is called as ``pre(data, training)`` (MMEngine's
            contract) and handles devices itself.
        init_cfg: Weight initialisation applied by :meth:`init_weights`; None, or
            ``dict(type='Pretrained', checkpoint=path)``.
        loss_fn: Loss of a plain architecture, ``loss_fn(output, targets) -> Tensor``: a
            callable or a ``MODELS`` config dict; None means ``F.cross_entropy``. Invalid with a
            mode-aware architecture, which computes its own losses.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> algo = BaseAlgorithm(nn.Linear(2, 2), data_preprocessor=dict(
        ...     type='ImgDataPreprocessor', mean=[0.0, 0.0], std=[1.0, 1.0]))
        >>> optim = torch.optim.SGD(algo.parameters(), lr=0.1)
        >>> log = algo.train_step((torch.randn(4, 2), torch.tensor([0, 1, 0, 1])), optim)
        >>> list(log), type(log['loss'])
        (['loss'], <class 'float'>)
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
                 init_cfg: Mapping[str, Any] | None = None,
                 loss_fn: Callable[[Any, Any], torch.Tensor] | Mapping[str, Any] | None = None,
                 ) -> None:
        super().__init__()
        self.architecture = _build_module(architecture, 'architecture')
        if data_preprocessor is None:
            # As MMRazor: without its own, the algorithm uses its architecture's preprocessor.
            data_preprocessor = getattr(self.architecture, 'data_preprocessor', None)
            if not isinstance(data_preprocessor, nn.Module):
                data_preprocessor = None
        self.data_preprocessor = (BaseDataPreprocessor() if data_preprocessor is None
                                  else _build_module(data_preprocessor, 'data_preprocessor'))
        if init_cfg is not None:
            if not isinstance(init_cfg, Mapping) or init_cfg.get('type') != 'Pretrained' \
                    or 'checkpoint' not in init_cfg:
                raise ValueError(f"init_cfg must be None or dict(type='Pretrained', "
                                 f"checkpoint=PATH), got {init_cfg!r}")
            init_cfg = dict(init_cfg)
        self.init_cfg = init_cfg
        if loss_fn is not None and self._arch_takes_mode():
            raise ValueError(f'loss_fn is only used with a plain architecture, but '
                             f'{type(self.architecture).__name__}.forward takes `mode` and '
                             f'computes its own losses')
        if isinstance(loss_fn, Mapping):
            loss_fn = MODELS.build(loss_fn)
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f'loss_fn must be callable or a config dict, got '
                            f'{type(loss_fn).__name__}')
        self._default_loss = loss_fn is None
        # Assigning an nn.Module loss registers it as a submodule, so it follows .to().
        self.loss_fn: Callable[[Any, Any], torch.Tensor] = (
            F.cross_entropy if loss_fn is None else loss_fn)

    # ------------------------------------------------------------------ helpers
    @property
    def device(self) -> torch.device:
        """Device of the first parameter, else of the first buffer, else CPU."""
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device('cpu')

    def _arch_takes_mode(self) -> bool:
        # Checked per call, not once in __init__, because pruning and NAS algorithms may
        # replace self.architecture.
        return _call_style(self.architecture).takes_mode

    def _call_arch(self, inputs: Any, data_samples: Any, mode: str) -> Any:
        """Call a mode-aware architecture, passing data_samples as its signature wants."""
        if _call_style(self.architecture).samples_by_keyword:
            return self.architecture(inputs, data_samples=data_samples, mode=mode)
        return self.architecture(inputs, data_samples, mode=mode)

    def init_weights(self) -> None:
        """Apply ``init_cfg``, else call ``init_weights()`` of the architecture if it has one.

        A ``Pretrained`` checkpoint (any file a razor_ext command writes, or a state dict file)
        is loaded by :func:`razor_ext.algorithm.load_weights`: prefixes (``architecture.``,
        ``student.``, ...) are fitted and loading is strict, so a wrong checkpoint fails with
        one line naming the missing / unexpected keys.

        Example:
            >>> from torch import nn
            >>> BaseAlgorithm(nn.Linear(2, 2)).init_weights()
        """
        if self.init_cfg is None:
            arch_init = getattr(self.architecture, 'init_weights', None)
            if callable(arch_init):
                arch_init()
            return
        from razor_ext.algorithm.weights import load_weights

        load_weights(self, self.init_cfg['checkpoint'])

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: Any, data_samples: Any = None, mode: str = 'tensor') -> Any:
        """Dispatch on ``mode``: ``'loss'``, ``'tensor'`` or ``'predict'``.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> BaseAlgorithm(nn.Linear(2, 3))(torch.ones(1, 2)).shape
            torch.Size([1, 3])
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        if mode == 'predict':
            return self._predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def loss(self, inputs: Any, data_samples: Any = None) -> LossDict:
        """Losses as a dict; every key containing ``'loss'`` is summed by :meth:`parse_losses`."""
        if self._arch_takes_mode():
            return self._call_arch(inputs, data_samples, 'loss')
        if data_samples is None:
            raise ValueError(f'loss mode of the plain architecture '
                             f'{type(self.architecture).__name__} needs targets: pass '
                             f'data_samples (e.g. a label tensor) or (inputs, targets) data')
        if self._default_loss and isinstance(data_samples, (list, tuple)) and data_samples and all(
                isinstance(d, Mapping) and 'gt_label' in d for d in data_samples):
            # mmcls-style samples (a traced classifier has lost its head's own loss)
            data_samples = torch.stack([torch.as_tensor(d['gt_label']).reshape(-1)[0]
                                        for d in data_samples]).to(self.device)
        return {'loss': self.loss_fn(self.architecture(inputs), data_samples)}

    def _forward(self, inputs: Any, data_samples: Any = None) -> Any:
        """Raw network output (no loss, no post-processing)."""
        if self._arch_takes_mode():
            return self._call_arch(inputs, data_samples, 'tensor')
        return self.architecture(inputs)

    def _predict(self, inputs: Any, data_samples: Any = None) -> Any:
        """Predictions; class indices for a plain classifier (see the class docstring)."""
        if self._arch_takes_mode():
            return self._call_arch(inputs, data_samples, 'predict')
        output = self.architecture(inputs)
        if (self._default_loss and isinstance(output, torch.Tensor)
                and output.is_floating_point() and output.ndim >= 2):
            return output.argmax(dim=1)
        return output

    # ------------------------------------------------------------------ steps
    def _preprocess(self, data: Any, training: bool) -> dict[str, Any]:
        if isinstance(self.data_preprocessor, BaseDataPreprocessor):
            return self.data_preprocessor(data, training, device=self.device)
        # A foreign (e.g. MMEngine) preprocessor: it may add keys, but must give the dict form.
        out = self.data_preprocessor(data, training)
        if not isinstance(out, Mapping) or 'inputs' not in out:
            raise TypeError(f'data_preprocessor {type(self.data_preprocessor).__name__} must '
                            f"return a dict with 'inputs' (and 'data_samples'), got "
                            f'{type(out).__name__}')
        return {'inputs': out['inputs'], 'data_samples': out.get('data_samples')}

    def train_step(self, data: Any, optimizer: Any) -> dict[str, float]:
        """One optimisation step; returns the log variables as Python floats.

        ``data`` is ``{'inputs', 'data_samples'}`` or ``(inputs, targets)``. ``optimizer`` is
        a ``torch.optim.Optimizer`` (zero_grad, backward, step), a dict of them (all step), or an MMEngine-style
        ``OptimWrapper`` (anything with ``update_params``). Does not switch train/eval mode:
        the loop owns that.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> algo = BaseAlgorithm(nn.Linear(2, 2))
            >>> opt = torch.optim.SGD(algo.parameters(), lr=0.1)
            >>> sorted(algo.train_step((torch.randn(4, 2), torch.tensor([0, 1, 1, 0])), opt))
            ['loss']
        """
        if hasattr(optimizer, 'update_params'):
            with optimizer.optim_context(self):
                data = self._preprocess(data, training=True)
                losses = self(data['inputs'], data['data_samples'], mode='loss')
            total, log_vars = self.parse_losses(losses)
            optimizer.update_params(total)
            return log_vars
        # A dict of optimizers (one per submodule, e.g. from a runner's dict optim_wrapper)
        # steps together here; algorithms that step them separately (DARTS) override this.
        optimizers = list(optimizer.values()) if isinstance(optimizer, Mapping) else [optimizer]
        data = self._preprocess(data, training=True)
        for opt in optimizers:
            opt.zero_grad()
        losses = self(data['inputs'], data['data_samples'], mode='loss')
        total, log_vars = self.parse_losses(losses)
        total.backward()
        for opt in optimizers:
            opt.step()
        return log_vars

    @torch.no_grad()
    def val_step(self, data: Any) -> Any:
        """Preprocess and predict without gradients.

        Example:
            >>> import torch
            >>> from torch import nn
            >>> BaseAlgorithm(nn.Linear(2, 3)).val_step((torch.ones(4, 2), None)).shape
            torch.Size([4])
        """
        data = self._preprocess(data, training=False)
        return self(data['inputs'], data['data_samples'], mode='predict')

    @torch.no_grad()
    def test_step(self, data: Any) -> Any:
        """Same as :meth:`val_step`; a separate hook for loops that test differently."""
        data = self._preprocess(data, training=False)
        return self(data['inputs'], data['data_samples'], mode='predict')

    def parse_losses(self, losses: LossDict) -> tuple[torch.Tensor, dict[str, float]]:
        """Sum the losses for backward and collect every value as a float for logging.

        Each value is a tensor (reduced with ``mean``) or a list/tuple of tensors (each
        reduced with ``mean``, then summed). Keys containing ``'loss'`` are added to the total;
        others (accuracies, say) are only logged. ``log_vars`` starts with ``'loss'``, the total.

        Raises:
            TypeError: a value is neither a tensor nor a list/tuple of tensors.
            ValueError: a value is an empty list, or no key contains ``'loss'``.

        Example:
            >>> import torch
            >>> total, log = BaseAlgorithm(torch.nn.Identity()).parse_losses(
            ...     {'loss_a': torch.tensor([1.0, 3.0]), 'loss_b': [torch.tensor(1.0)] * 2,
            ...      'acc': torch.tensor(0.5)})
            >>> total.item(), log
            (4.0, {'loss': 4.0, 'loss_a': 2.0, 'loss_b': 2.0, 'acc': 0.5})
        """
        if not isinstance(losses, Mapping):
            raise TypeError(f'loss mode must return a dict of losses, got '
                            f'{type(losses).__name__}')
        reduced: dict[str, torch.Tensor] = {}
        for key, value in losses.items():
            if isinstance(value, torch.Tensor):
                reduced[key] = value.mean()
            elif isinstance(value, (list, tuple)) and all(
                    isinstance(v, torch.Tensor) for v in value):
                if not value:
                    raise ValueError(f'loss {key!r} is an empty list')
                reduced[key] = sum(v.mean() for v in value)  # type: ignore[assignment]
            else:
                raise TypeError(f'loss {key!r} must be a tensor or a list of tensors, got '
                                f'{type(value).__name__}')
        loss_keys = [k for k in reduced if 'loss' in k]
        if not loss_keys:
            raise ValueError(f"no loss to optimise: no key contains 'loss' (keys: "
                             f"{list(reduced)})")
        total = sum(reduced[k] for k in loss_keys)
        # One device->host copy for all values instead of one sync per .item().
        values = torch.stack([total.detach().float()] + [
            v.detach().float().to(total.device) for v in reduced.values()]).tolist()
        log_vars = {'loss': values[0]}
        log_vars.update(zip(reduced, values[1:]))
        log_vars['loss'] = values[0]  # the total wins over a component literally named 'loss'
        return total, log_vars  # type: ignore[return-value]
