"""SingleTeacherDistill: a student trained from one (usually frozen) teacher."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from razor_ext.algorithm.base_algorithm import BaseAlgorithm, LossDict, _build_module, _call_style
from razor_ext.algorithm.random_weights import warn_random_weights
from razor_ext.distill.configurable_distiller import ConfigurableDistiller
from razor_ext.registry import MODELS


def run_model(model: nn.Module, inputs: Any, data_samples: Any, mode: str) -> Any:
    """Call ``model`` in ``mode`` if its forward takes a mode, else plainly (``'tensor'``)."""
    style = _call_style(model)
    if not style.takes_mode:
        return model(inputs)
    if style.samples_by_keyword:
        return model(inputs, data_samples=data_samples, mode=mode)
    return model(inputs, data_samples, mode=mode)


def add_prefix(losses: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {f'{prefix}.{k}': v for k, v in losses.items()}


def _to(data: Any, device: torch.device | None, dtype: torch.dtype | None) -> Any:
    """Move floating tensors inside ``data`` (nested lists/tuples/dicts) to device/dtype."""
    if isinstance(data, Tensor):
        if data.is_floating_point():
            return data.to(device=device, dtype=dtype)
        return data.to(device=device)
    if isinstance(data, (list, tuple)) and not hasattr(data, '_fields'):
        return type(data)(_to(d, device, dtype) for d in data)
    if isinstance(data, Mapping):
        return {k: _to(v, device, dtype) for k, v in data.items()}
    return data


def _load_checkpoint(model: nn.Module, path: str) -> None:
    if str(path).startswith(('http://', 'https://')):
        # MMRazor's configs name download URLs; razor_ext runs offline.
        raise ValueError(f'teacher_ckpt {path!r} is a URL: razor_ext does not download '
                         f'checkpoints; download it and pass the local file, or set '
                         f'model.teacher_ckpt=None to distil from a randomly initialised teacher')
    from razor_ext.algorithm.weights import load_weights

    load_weights(model, path)


@MODELS.register_module()
class SingleTeacherDistill(BaseAlgorithm):
    """Distils ``teacher`` into the student ``architecture`` with a ``distiller``.

    A frozen teacher (``teacher_trainable=False``) runs under ``torch.no_grad`` in tensor
    mode, has ``requires_grad=False`` and is **not a registered submodule**: it is absent
    from ``parameters()`` (so an optimizer built from ``algorithm.parameters()`` never sees
    it), from ``state_dict()`` and from ``.to()`` unless no ``teacher_device``/``teacher_dtype``
    pins it (then ``.to()``/``.half()`` move it with the algorithm). It may live on another
    device or in half precision; its records are moved to the student's device and dtype
    before the losses. ``teacher_norm_eval`` keeps its norm layers in eval mode (no
    running-stat updates) when the algorithm trains.

    Args:
        architecture: the student (module or ``MODELS`` config).
        teacher: the teacher (module or config); any family: connectors bridge shapes.
        distiller: a :class:`ConfigurableDistiller` or its config.
        teacher_ckpt: a checkpoint loaded (strictly, prefixes fitted) into the teacher: any file
            a razor_ext command writes. A frozen teacher built from a config without one warns
            (:class:`~razor_ext.algorithm.RandomWeightsWarning`).
        teacher_trainable: train the teacher too (online distillation): it is then a
            registered submodule and its own losses are returned under ``teacher.``.
        teacher_norm_eval: keep the teacher's BatchNorm layers in eval mode.
        calculate_student_loss: return the student's own losses (``student.*``).
        student_trainable: with ``calculate_student_loss=False``, run the student without
            gradients when False.
        teacher_device, teacher_dtype: where the frozen teacher lives, e.g. ``'cpu'`` and
            ``torch.float16``.
        data_preprocessor, init_cfg, loss_fn: as in :class:`BaseAlgorithm` (for the student).

    ``loss()`` returns ``{'student.loss': ..., 'distill.<loss name>': ...}``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> algo = SingleTeacherDistill(
        ...     architecture=nn.Sequential(nn.Linear(4, 3)),
        ...     teacher=nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)),
        ...     distiller=dict(type='ConfigurableDistiller',
        ...         student_recorders=dict(fc=dict(type='ModuleOutputs', source='0')),
        ...         teacher_recorders=dict(fc=dict(type='ModuleOutputs', source='2')),
        ...         distill_losses=dict(loss_kd=dict(type='KLDivergence', tau=4.0)),
        ...         loss_forward_mappings=dict(loss_kd=dict(
        ...             preds_S=dict(recorder='fc', from_student=True),
        ...             preds_T=dict(recorder='fc', from_student=False)))))
        >>> sorted(algo.loss(torch.randn(2, 4), torch.tensor([0, 2])))
        ['distill.loss_kd', 'student.loss']
        >>> len(list(algo.parameters()))  # the student's weight and bias only
        2
    """

    def __init__(self, architecture: nn.Module | Mapping[str, Any],
                 teacher: nn.Module | Mapping[str, Any],
                 distiller: ConfigurableDistiller | Mapping[str, Any],
                 teacher_ckpt: str | None = None, teacher_trainable: bool = False,
                 teacher_norm_eval: bool = True, calculate_student_loss: bool = True,
                 teacher_device: str | torch.device | None = None,
                 teacher_dtype: torch.dtype | None = None, student_trainable: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(architecture, **kwargs)
        self.distiller = _build_module(distiller, 'distiller')
        if not isinstance(self.distiller, ConfigurableDistiller):
            raise TypeError(f'distiller must be a ConfigurableDistiller, got '
                            f'{type(self.distiller).__name__}')
        teacher_from_config = isinstance(teacher, Mapping)
        teacher = _build_module(teacher, 'teacher')
        if teacher_ckpt:
            _load_checkpoint(teacher, teacher_ckpt)
        elif teacher_from_config and not teacher_trainable:
            # A frozen teacher built from a config has its initial weights: distilling from it
            # teaches noise, so say which key to set (a built module is the caller's business).
            warn_random_weights('the frozen teacher', 'model.teacher_ckpt')
        if teacher_dtype is not None and not (isinstance(teacher_dtype, torch.dtype)
                                              and teacher_dtype.is_floating_point):
            raise TypeError(f'teacher_dtype must be a floating torch.dtype, got {teacher_dtype!r}')
        self.teacher_trainable = teacher_trainable
        self.teacher_norm_eval = teacher_norm_eval
        self.calculate_student_loss = calculate_student_loss
        self.student_trainable = student_trainable
        self.teacher_device = None if teacher_device is None else torch.device(teacher_device)
        self.teacher_dtype = teacher_dtype
        if teacher_trainable:
            if teacher_device is not None or teacher_dtype is not None:
                raise ValueError('teacher_device/teacher_dtype are for a frozen teacher; '
                                 'a trainable teacher follows the algorithm')
            self.add_module('teacher_model', teacher)
        else:
            teacher.requires_grad_(False)
            if teacher_device is not None or teacher_dtype is not None:
                teacher.to(device=self.teacher_device, dtype=teacher_dtype)
            # Kept out of _modules on purpose: see the class docstring.
            object.__setattr__(self, '_frozen_teacher', teacher)
        self.distiller.prepare_from_student(self.student)
        self.distiller.prepare_from_teacher(self.teacher)
        self.distillation_stopped = False
        self.train(self.training)

    # ------------------------------------------------------------------ the two models
    @property
    def student(self) -> nn.Module:
        return self.architecture

    @property
    def teacher(self) -> nn.Module:
        if self.teacher_trainable:
            return self._modules['teacher_model']
        return self.__dict__['_frozen_teacher']

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> SingleTeacherDistill:
        super()._apply(fn, *args, **kwargs)
        if not self.teacher_trainable and self.teacher_device is None \
                and self.teacher_dtype is None:
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True) -> SingleTeacherDistill:
        super().train(mode)
        self.teacher.train(mode)
        if mode and self.teacher_norm_eval:
            for module in self.teacher.modules():
                if isinstance(module, nn.modules.batchnorm._NormBase):
                    module.eval()
        return self

    def student_state_dict(self) -> dict[str, Tensor]:
        """The student's own state dict (keys as in the bare student model).

        Example:
            >>> from torch import nn
            >>> algo = SingleTeacherDistill(nn.Linear(2, 2), nn.Linear(2, 2),
            ...                             dict(type='ConfigurableDistiller'))
            >>> sorted(algo.student_state_dict())
            ['bias', 'weight']
        """
        return self.student.state_dict()

    # ------------------------------------------------------------------ loss
    def _teacher_forward(self, inputs: Any, data_samples: Any) -> dict[str, Any]:
        teacher = self.teacher
        if self.teacher_trainable:
            with self.distiller.teacher_recorders, self.distiller.deliveries:
                if _call_style(teacher).takes_mode:
                    return add_prefix(run_model(teacher, inputs, data_samples, 'loss'), 'teacher')
                outputs = teacher(inputs)
            return ({'teacher.loss': self.loss_fn(outputs, data_samples)}
                    if data_samples is not None else {})
        pinned = self.teacher_device is not None or self.teacher_dtype is not None
        if pinned:
            inputs = _to(inputs, self.teacher_device, self.teacher_dtype)
        with self.distiller.teacher_recorders, self.distiller.deliveries, torch.no_grad():
            run_model(teacher, inputs, data_samples, 'tensor')
        if pinned:
            device, dtype = self._student_device_dtype()
            self.distiller.teacher_recorders.map_records(lambda r: _to(r, device, dtype))
        return {}

    def teacher_predict(self, inputs: Any, data_samples: Any = None) -> Any:
        """The teacher's raw output (``'tensor'`` mode), no grad, no recording; inputs moved to
        the teacher's pinned device/dtype and the output back to the student's.

        Example:
            >>> algo = SingleTeacherDistill(nn.Linear(2, 3), nn.Linear(2, 3),
            ...                             dict(type='ConfigurableDistiller'))
            >>> algo.teacher_predict(torch.ones(4, 2)).shape
            torch.Size([4, 3])
        """
        pinned = self.teacher_device is not None or self.teacher_dtype is not None
        if pinned:
            inputs = _to(inputs, self.teacher_device, self.teacher_dtype)
        with torch.no_grad():
            out = run_model(self.teacher, inputs, data_samples, 'tensor')
        return _to(out, *self._student_device_dtype()) if pinned else out

    def _student_device_dtype(self) -> tuple[torch.device, torch.dtype | None]:
        for p in self.student.parameters():
            return p.device, p.dtype
        return torch.device('cpu'), None

    def loss(self, inputs: Any, data_samples: Any = None) -> LossDict:
        """Student losses (``student.*``), distill losses (``distill.*``) and, for a
        trainable teacher, the teacher's (``teacher.*``)."""
        losses: dict[str, Any] = {}
        self.distiller.set_deliveries_override(False)
        losses.update(self._teacher_forward(inputs, data_samples))
        self.distiller.set_deliveries_override(True)
        with self.distiller.student_recorders, self.distiller.deliveries:
            if self.calculate_student_loss:
                losses.update(add_prefix(super().loss(inputs, data_samples), 'student'))
            elif self.student_trainable:
                self._forward(inputs, data_samples)
            else:
                with torch.no_grad():
                    self._forward(inputs, data_samples)
        if self.distillation_stopped:
            self.distiller.student_recorders.reset()
            self.distiller.teacher_recorders.reset()
        else:
            losses.update(add_prefix(self.distiller.compute_distill_losses(), 'distill'))
        return losses
