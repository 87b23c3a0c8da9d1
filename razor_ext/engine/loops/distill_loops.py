"""``SingleTeacherDistillValLoop``: validate the student and, with the same evaluator, its teacher."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import DataLoader

from razor_ext.engine.loops.val_test_loops import ValLoop, evaluate
from razor_ext.registry import LOOPS


class _TeacherView:
    """What an evaluator needs of a model (``_preprocess``, ``eval``/``train``, a tensor-mode
    call), answered by a distillation algorithm's teacher."""

    def __init__(self, algorithm: Any) -> None:
        self.algorithm = algorithm

    @property
    def training(self) -> bool:
        return self.algorithm.training

    def eval(self) -> _TeacherView:
        self.algorithm.eval()
        return self

    def train(self, mode: bool = True) -> _TeacherView:
        self.algorithm.train(mode)
        return self

    def _preprocess(self, data: Any, training: bool = False) -> Any:
        return self.algorithm._preprocess(data, training=training)

    def __call__(self, inputs: Any, data_samples: Any = None, mode: str = 'tensor') -> Any:
        return self.algorithm.teacher_predict(inputs, data_samples)


@LOOPS.register_module()
class SingleTeacherDistillValLoop(ValLoop):
    """MMRazor's loop: the student's metrics as they are, the teacher's prefixed ``teacher.``
    (e.g. ``teacher.accuracy/top1``), all passed to the ``after_val`` hooks together.

    The model must be a distillation algorithm with a ``teacher`` and ``teacher_predict``
    (``SingleTeacherDistill`` and its subclasses).

    Example (config):
        >>> val_cfg = dict(type='SingleTeacherDistillValLoop')
    """

    def __init__(self, runner: Any, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None) -> None:
        super().__init__(runner, dataloader, evaluator)
        model = runner.model
        if not callable(getattr(model, 'teacher_predict', None)):
            raise TypeError(f'SingleTeacherDistillValLoop needs a distillation algorithm with a '
                            f'teacher (e.g. SingleTeacherDistill), got {type(model).__name__}')

    def run(self) -> dict[str, float]:
        self.runner.call_hook('before_val')
        metrics = evaluate(self.runner.model, self.dataloader, self.evaluator)
        teacher = evaluate(_TeacherView(self.runner.model), self.dataloader, self.evaluator)
        metrics.update({f'teacher.{k}': v for k, v in teacher.items()})
        self.runner.call_hook('after_val', metrics=metrics)
        return metrics
