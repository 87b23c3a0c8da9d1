"""Search loops for the runner: ``EvolutionSearchLoop``, ``SubnetValLoop`` and
``SlimmableValLoop`` (MMRazor's names)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader

from razor_ext.engine.loops.base import BaseLoop
from razor_ext.engine.loops.val_test_loops import evaluate
from razor_ext.nas.search import SearchResult, bn_calibrator, evolution_search, resolve_mutator
from razor_ext.registry import LOOPS, TASK_UTILS

if TYPE_CHECKING:
    from razor_ext.engine.runner import Runner

__all__ = ['EvolutionSearchLoop', 'SlimmableValLoop', 'SubnetValLoop']


def with_runtime_latency(estimator_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """An estimator config whose ``latency_runtime`` (``'onnxruntime'`` / ``'openvino'``) and
    ``latency_threads`` keys become a ``latency_measure`` callable (``export.latency_measure``):
    the search's ``latency`` constraint is then measured in that deployment runtime.

    Example:
        >>> cfg = with_runtime_latency(dict(type='ResourceEstimator', latency_runtime='onnxruntime'))
        >>> cfg['measure_latency'], callable(cfg['latency_measure']), 'latency_runtime' in cfg
        (True, True, False)
    """
    cfg = dict(estimator_cfg)
    runtime = cfg.pop('latency_runtime', None)
    threads = cfg.pop('latency_threads', None)
    if runtime is not None:
        from razor_ext.export import latency_measure  # the engine sits above export and estimators

        cfg.setdefault('measure_latency', True)
        cfg['latency_measure'] = latency_measure(runtime, threads=threads,
                                                 warmup=cfg.get('warmup', 3), repeats=cfg.get('repeats', 10))
    return cfg


def _score(metrics: Mapping[str, float], score_key: str) -> float:
    if score_key not in metrics:
        raise KeyError(f'score_key {score_key!r} is not among the metrics {sorted(metrics)}')
    return float(metrics[score_key])


@LOOPS.register_module()
class EvolutionSearchLoop(BaseLoop):
    """Evolution search driven by a runner: a thin wrapper of :func:`evolution_search`.

    MMRazor's arguments: ``max_epochs``, ``num_candidates``, ``top_k``, ``num_mutation``,
    ``num_crossover``, ``mutate_prob``, ``crossover_prob``, ``calibrate_sample_num`` (images
    of the train loader for BN recalibration; -1 or 0 means none), ``constraints_range``,
    ``estimator_cfg`` (a ``TASK_UTILS`` config or an object / callable), ``score_key``.
    Checkpoints go to ``<work_dir>/search_state.pkl`` and resume automatically.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None, max_epochs: int = 20, num_candidates: int = 50,
                 top_k: int = 10, num_mutation: int = 25, num_crossover: int = 25,
                 mutate_prob: float = 0.1, crossover_prob: float = 0.5,
                 calibrate_sample_num: int = -1,
                 constraints_range: Mapping[str, Any] | None = None,
                 estimator_cfg: Any = None, score_key: str = 'accuracy/top1',
                 seed: int = 0, max_sample_attempts: int = 1000,
                 calibrate_dataloader: DataLoader | Mapping[str, Any] | None = None) -> None:
        super().__init__(runner, dataloader)
        self.evaluator = runner.build_evaluator(evaluator)
        self.kwargs = dict(max_epochs=max_epochs, num_candidates=num_candidates, top_k=top_k,
                           num_mutation=num_mutation, num_crossover=num_crossover,
                           mutate_prob=mutate_prob, crossover_prob=crossover_prob, seed=seed,
                           max_sample_attempts=max_sample_attempts,
                           constraints=dict(constraints_range or {}))
        if isinstance(estimator_cfg, Mapping):
            estimator_cfg = TASK_UTILS.build(with_runtime_latency(estimator_cfg))
        self.estimator = estimator_cfg
        self.calibrate_sample_num = calibrate_sample_num
        if isinstance(calibrate_dataloader, Mapping):
            calibrate_dataloader = runner.build_dataloader(calibrate_dataloader)
        self.calibrate_dataloader = calibrate_dataloader
        self.score_key = score_key
        self.result: SearchResult | None = None

    def _calibrator(self) -> Any:
        if self.calibrate_sample_num is None or self.calibrate_sample_num <= 0:
            return None
        loader = self.calibrate_dataloader
        if loader is None and self.runner.cfg.get('train_dataloader') is not None:
            loader = self.runner.build_dataloader(self.runner.cfg['train_dataloader'])
        if loader is None:
            raise ValueError('calibrate_sample_num > 0 needs a calibrate_dataloader or the '
                             "runner's train_dataloader")
        batches, seen = [], 0
        for batch in loader:
            batches.append(batch)
            seen += len(batch[1]) if isinstance(batch, (tuple, list)) else len(batch)
            if seen >= self.calibrate_sample_num:
                break
        model = self.runner.model

        def forward(arch: Any, batch: Any) -> None:
            data = model._preprocess(batch, training=True)
            model(data['inputs'], data['data_samples'], mode='tensor')

        calibrate = bn_calibrator(batches, forward=forward)
        return lambda _arch: calibrate(model.architecture)

    def run(self) -> SearchResult:
        model = self.runner.model
        work_dir = Path(getattr(self.runner, 'work_dir', '.'))
        self.result = evolution_search(
            model, lambda m: _score(evaluate(m, self.dataloader, self.evaluator), self.score_key),
            mutator=resolve_mutator(model), estimator=self.estimator,
            calibrate_fn=self._calibrator(), checkpoint=work_dir / 'search_state.pkl',
            **self.kwargs)
        return self.result


@LOOPS.register_module()
class SubnetValLoop(BaseLoop):
    """Validate fixed subnets of a supernet: ``'max'``, ``'min'``, ``'random'`` (``num_random``
    of them, seeded) or explicit choices dicts, listed in ``subnets``.

    ``run()`` returns ``{'max/accuracy/top1': ..., 'min/...': ..., 'random0/...': ...}``.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None, subnets: tuple[Any, ...] = ('max', 'min'),
                 num_random: int = 1, seed: int = 0) -> None:
        super().__init__(runner, dataloader)
        self.evaluator = runner.build_evaluator(evaluator)
        self.subnets, self.num_random, self.seed = list(subnets), num_random, seed

    def run(self) -> dict[str, float]:
        import random
        model = self.runner.model
        mutator = resolve_mutator(model)
        before = dict(mutator.current_choices)
        metrics: dict[str, float] = {}
        rng_state = random.getstate()
        random.seed(self.seed)
        try:
            for i, subnet in enumerate(self.subnets):
                if subnet == 'random':
                    named = [(f'random{j}', mutator.sample_choices())
                             for j in range(self.num_random)]
                elif subnet in ('max', 'min'):
                    named = [(subnet, getattr(mutator, f'{subnet}_choices'))]
                elif isinstance(subnet, Mapping):
                    named = [(f'subnet{i}', dict(subnet))]
                else:
                    raise ValueError(f"subnets entries must be 'max', 'min', 'random' or a "
                                     f'choices dict, got {subnet!r}')
                for name, choices in named:
                    mutator.set_choices(choices)
                    result = evaluate(model, self.dataloader, self.evaluator)
                    metrics.update({f'{name}/{k}': v for k, v in result.items()})
        finally:
            random.setstate(rng_state)
            mutator.set_choices(before)
        self.runner.call_hook('after_val', metrics=metrics)
        return metrics


@LOOPS.register_module()
class SlimmableValLoop(BaseLoop):
    """Validate every subnet of a slimmable network (MMRazor's ``SlimmableValLoop``): the model's
    mutator lists them in ``subnets`` (``SlimmableNetwork`` with a ``SlimmableChannelMutator``).

    ``run()`` returns ``{'subnet_0.accuracy/top1': ..., 'subnet_1.accuracy/top1': ...}`` and
    leaves the mutator's choices as they were.
    """

    def __init__(self, runner: Runner, dataloader: DataLoader | Mapping[str, Any],
                 evaluator: Any = None, fp16: bool = False) -> None:
        super().__init__(runner, dataloader)
        self.evaluator = runner.build_evaluator(evaluator)

    def run(self) -> dict[str, float]:
        model = self.runner.model
        mutator = getattr(model, 'mutator', None)
        subnets = getattr(mutator, 'subnets', None)
        if getattr(model, 'is_deployed', False) or not subnets:
            raise ValueError('SlimmableValLoop validates the subnets of a SlimmableNetwork '
                             '(deploy_index=-1); use ValLoop for a deployed subnet')
        before = dict(mutator.current_choices)
        metrics: dict[str, float] = {}
        try:
            for index, subnet in enumerate(subnets):
                mutator.set_choices(subnet)
                result = evaluate(model, self.dataloader, self.evaluator)
                metrics.update({f'subnet_{index}.{k}': v for k, v in result.items()})
        finally:
            mutator.set_choices(before)
        return metrics
