"""Evolution and random search over a supernet's choices, resumable and always terminating.

The search never copies the model: each candidate is a choices dict set on the one supernet
through its mutator (``set_choices``), optionally followed by BN recalibration, then scored.

Example:
    >>> import random
    >>> class Toy:  # any mutator-like object: sample_choices / set_choices / current_choices
    ...     def __init__(self): self.current_choices = {'a': 0, 'b': 0}
    ...     def sample_choices(self): return {k: random.randrange(5) for k in ('a', 'b')}
    ...     def set_choices(self, c): self.current_choices = dict(c)
    >>> toy = Toy()
    >>> res = evolution_search(toy, lambda m: sum(m.current_choices.values()), max_epochs=3,
    ...                        num_candidates=6, top_k=2, num_mutation=2, num_crossover=2)
    >>> res.best_choices, res.best_score
    ({'a': 4, 'b': 4}, 8.0)
"""
from __future__ import annotations

import dataclasses
import hashlib
import pickle
import random
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from razor_ext.fileio import atomic_write_bytes

__all__ = ['Candidate', 'SearchResult', 'evolution_search', 'random_search', 'resolve_mutator',
           'SearchConstraintError', 'subnet_key']

Choices = dict[Any, Any]
Resources = dict[str, Any]
Estimator = Callable[[Any], Mapping[str, float]]


class SearchConstraintError(RuntimeError):
    """No subnet satisfying the constraints was found within the sampling-attempt cap."""


@dataclasses.dataclass
class Candidate:
    """One evaluated subnet: its choices, score and resources (empty without constraints)."""
    choices: Choices
    score: float
    resources: Resources


@dataclasses.dataclass
class SearchResult:
    """Outcome of a search.

    Attributes:
        best_choices, best_score, best_resources: the best candidate found.
        top_k: the final top-k candidates, best first.
        candidates: every candidate evaluated, in evaluation order (each subnet once).
        epochs: number of epochs run (resumed ones included).
    """
    best_choices: Choices
    best_score: float
    best_resources: Resources
    top_k: list[Candidate]
    candidates: list[Candidate]
    epochs: int


def resolve_mutator(model: Any) -> Any:
    """The mutator-like object driving ``model``: ``model.mutator``, or ``model`` itself.

    A mutator-like object has ``sample_choices()``, ``set_choices(dict)`` and
    ``current_choices``, as :class:`NasMutator` does.
    """
    for obj in (getattr(model, 'mutator', None), model):
        if obj is not None and all(hasattr(obj, a) for a in ('sample_choices', 'set_choices')):
            return obj
    raise TypeError(f'{type(model).__name__} has no mutator: pass a model with a `.mutator` '
                    f'(sample_choices / set_choices / current_choices) or the mutator itself')


def _key(choices: Mapping[Any, Any]) -> Hashable:
    # Keys may be group ids (ints) or names; values may be lists (unhashable): repr is stable.
    return tuple(sorted((repr(k), repr(v)) for k, v in choices.items()))


def _in_range(value: float, bounds: Any) -> bool:
    if isinstance(bounds, (int, float)):
        return value <= bounds
    lo, hi = bounds
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _estimate(estimator: Any, model: Any) -> Resources:
    fn = getattr(estimator, 'estimate', estimator)
    # Numbers become floats; other entries (e.g. 'latency_backend') are kept as they are.
    return {k: (float(v) if isinstance(v, (int, float)) else v)
            for k, v in dict(fn(model)).items()}


def _world_and_rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class _Search:
    """State of one search; everything needed to resume lives in :meth:`state`."""

    def __init__(self, model: Any, evaluate_fn: Callable[[Any], float], mutator: Any,
                 constraints: Mapping[str, Any], estimator: Any,
                 calibrate_fn: Callable[[Any], None] | None, opts: dict[str, Any],
                 init_candidates: Sequence[Choices] = ()) -> None:
        self.model, self.evaluate_fn, self.mutator = model, evaluate_fn, mutator
        self.init_candidates = [dict(c) for c in init_candidates]
        self.constraints, self.estimator, self.calibrate_fn = dict(constraints), estimator, \
            calibrate_fn
        self.opts = opts
        self.rng = random.Random(opts['seed'])
        self.epoch = 0
        self.population: list[Choices] = []
        self.top_k: list[Candidate] = []
        self.evaluated: dict[Hashable, Candidate] = {}  # insertion order = evaluation order
        self.resource_cache: dict[Hashable, Resources] = {}
        self.exhausted = False  # the space holds no subnet not yet scored

    # -------------------------------------------------------------- sampling
    def _sample(self) -> Choices:
        # The mutator samples with the global RNGs; seed them from our own RNG so a search is
        # reproducible and resumable from the RNG state alone.
        # (torch's RNG is seeded once per search and checkpointed: reseeding it per sample
        # costs milliseconds.)
        random.seed(self.rng.getrandbits(63))
        return dict(self.mutator.sample_choices())

    def _resources(self, choices: Choices) -> Resources:
        key = _key(choices)
        if key not in self.resource_cache:
            if not self.constraints:
                self.resource_cache[key] = {}
            else:
                self.mutator.set_choices(choices)
                res = _estimate(self.estimator, self.model)
                missing = [k for k in self.constraints if k not in res]
                if missing:
                    raise KeyError(f'the estimator returned no {missing} (it gave '
                                   f'{sorted(res)}); constraints name {sorted(self.constraints)}')
                self.resource_cache[key] = res
        return self.resource_cache[key]

    def _valid(self, choices: Choices) -> bool:
        res = self._resources(choices)
        return all(_in_range(res[k], b) for k, b in self.constraints.items())

    def _new(self, choices: Choices, taken: set[Hashable]) -> bool:
        return _key(choices) not in taken and self._valid(choices)

    def _random_candidate(self, taken: set[Hashable]) -> Choices | None:
        """A new valid subnet; None when ``max_sample_attempts`` draws found none but valid
        subnets are known (``taken``): the space, or the part the constraints allow, is
        exhausted. Raises only when no subnet at all meets the constraints."""
        cap = self.opts['max_sample_attempts']
        fresh = False
        for _ in range(cap):
            choices = self._sample()
            if _key(choices) in taken:
                continue
            fresh = True
            if self._valid(choices):
                return choices
        if not fresh or taken:
            return None
        seen = list(self.resource_cache.values())
        ranges = {k: (min(r[k] for r in seen), max(r[k] for r in seen))
                  for k in self.constraints} if seen else {}
        unmet = [k for k, b in self.constraints.items()
                 if not any(_in_range(r[k], b) for r in seen)]
        raise SearchConstraintError(
            f'no new subnet satisfying constraints={self.constraints} in {cap} sampling '
            f'attempts (max_sample_attempts); never met: {unmet or "all at once"}; resources '
            f'seen while sampling: {ranges}. Widen the constraints or lower num_candidates '
            f'({self.opts["num_candidates"]}).')

    def _mutate(self, taken: set[Hashable]) -> Choices | None:
        for _ in range(self.opts['max_sample_attempts']):
            parent = self.rng.choice(self.top_k).choices
            fresh = self._sample()
            child = {k: (fresh[k] if self.rng.random() < self.opts['mutate_prob'] else v)
                     for k, v in parent.items()}
            if self._new(child, taken):
                return child
        return None  # the slot is filled by a random candidate instead

    def _crossover(self, taken: set[Hashable]) -> Choices | None:
        for _ in range(self.opts['max_sample_attempts']):
            a, b = (c.choices for c in self.rng.sample(self.top_k, 2)) if len(self.top_k) > 1 \
                else (self.top_k[0].choices,) * 2
            child = {k: (b[k] if self.rng.random() < self.opts['crossover_prob'] else v)
                     for k, v in a.items()}
            if self._new(child, taken):
                return child
        return None

    def _next_population(self) -> list[Choices]:
        taken = set(self.evaluated)
        population: list[Choices] = []
        if self.epoch == 0:  # the given starting points first (those the constraints allow)
            for choices in self.init_candidates:
                if len(population) < self.opts['num_candidates'] and self._new(choices, taken):
                    population.append(choices)
                    taken.add(_key(choices))
        if self.top_k:
            for make, n in ((self._mutate, self.opts['num_mutation']),
                            (self._crossover, self.opts['num_crossover'])):
                for _ in range(n):
                    child = make(taken)
                    if child is not None:
                        population.append(child)
                        taken.add(_key(child))
        while len(population) < self.opts['num_candidates']:
            child = self._random_candidate(taken)
            if child is None:
                self.exhausted = True  # every subnet scored or in this population
                break
            population.append(child)
            taken.add(_key(child))
        return population

    # -------------------------------------------------------------- evaluation
    def _evaluate(self, choices: Choices) -> Candidate:
        key = _key(choices)
        if key not in self.evaluated:
            self.mutator.set_choices(choices)
            if self.calibrate_fn is not None:
                self.calibrate_fn(self.model)
            score = float(self.evaluate_fn(self.model))
            self.evaluated[key] = Candidate(dict(choices), score, self._resources(choices))
        return self.evaluated[key]

    def _evaluate_shared(self, population: list[Choices]) -> None:
        """In a torch.distributed job, rank r scores every world_size-th new candidate and the
        scores are gathered, so every rank ends with the same ``evaluated`` table (and the
        search with the single-process result)."""
        world, rank = _world_and_rank()
        if world == 1:
            return
        todo = [c for c in population if _key(c) not in self.evaluated]
        mine = [self._evaluate(c) for c in todo[rank::world]]
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, mine)
        scored = {_key(cand.choices): cand for part in gathered for cand in part}
        for choices in todo:  # the population's order: the order a single process evaluates in
            self.evaluated.pop(_key(choices), None)
            self.evaluated[_key(choices)] = scored[_key(choices)]

    def run_epoch(self) -> None:
        if not self.population:
            self.population = self._next_population()
        if not self.population:
            self.exhausted = True
            return
        self._evaluate_shared(self.population)
        scored = [self._evaluate(c) for c in self.population]
        pool = {_key(c.choices): c for c in self.top_k + scored}
        # Stable sort: ties keep evaluation order, so results do not depend on dict hashing.
        self.top_k = sorted(pool.values(), key=lambda c: -c.score)[:self.opts['top_k']]
        self.epoch += 1
        self.population = [] if self.epoch >= self.opts['max_epochs'] else self._next_population()

    # -------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        return dict(opts=self.opts, constraints=self.constraints, epoch=self.epoch,
                    population=self.population, top_k=self.top_k,
                    evaluated=list(self.evaluated.values()), rng=self.rng.getstate(),
                    torch_rng=torch.get_rng_state(), resource_cache=self.resource_cache)

    def load_state(self, state: dict[str, Any]) -> None:
        if state['opts'] != self.opts or state['constraints'] != self.constraints:
            diff = {k: (state['opts'].get(k), v) for k, v in self.opts.items()
                    if state['opts'].get(k) != v}
            raise ValueError(f'the checkpoint was written by a search with other settings '
                             f'(checkpoint, now): {diff or (state["constraints"], self.constraints)}'
                             f'; delete it or pass the same arguments')
        self.epoch, self.population, self.top_k = state['epoch'], state['population'], \
            state['top_k']
        self.evaluated = {_key(c.choices): c for c in state['evaluated']}
        self.resource_cache = state['resource_cache']
        self.rng.setstate(state['rng'])
        torch.set_rng_state(state['torch_rng'])


def evolution_search(
    model: Any,
    evaluate_fn: Callable[[Any], float],
    *,
    mutator: Any = None,
    constraints: Mapping[str, Any] | None = None,
    estimator: Estimator | Any = None,
    num_candidates: int = 50,
    top_k: int = 10,
    num_mutation: int = 25,
    num_crossover: int = 25,
    mutate_prob: float = 0.1,
    crossover_prob: float = 0.5,
    max_epochs: int = 20,
    seed: int = 0,
    calibrate_fn: Callable[[Any], None] | None = None,
    max_sample_attempts: int = 1000,
    checkpoint: str | Path | None = None,
    resume: bool = True,
    on_epoch_end: Callable[[int, list[Candidate]], None] | None = None,
    init_candidates: Sequence[Mapping[Any, Any]] | None = None,
) -> SearchResult:
    """Evolution search (SPOS / MMRazor ``EvolutionSearchLoop`` semantics) on one supernet.

    Each epoch evaluates a population of ``num_candidates`` unique subnets (higher
    ``evaluate_fn(model)`` is better), keeps the ``top_k`` best seen so far, and builds the next
    population from ``num_mutation`` mutations (each choice of a top-k parent resampled with
    probability ``mutate_prob``), ``num_crossover`` crossovers (each choice taken from the
    second parent with probability ``crossover_prob``) and random samples for the rest.

    Args:
        model: the supernet (anything ``evaluate_fn`` accepts) with a ``.mutator``, or the
            mutator-like object itself (``sample_choices()``, ``set_choices(dict)``).
        evaluate_fn: ``evaluate_fn(model) -> float`` scores the subnet currently set.
        mutator: overrides ``model.mutator``.
        constraints: ``{resource: (lo, hi)}`` (a bound may be None) or ``{resource: hi}``,
            e.g. ``dict(flops=(0, 330e6), latency=(0, 5.0))``; checked before evaluating.
        estimator: ``estimator(model) -> dict`` or an object with ``.estimate(model)``
            (e.g. ``ResourceEstimator``), giving at least the constrained resources of the
            subnet currently set. Required with constraints.
        calibrate_fn: called as ``calibrate_fn(model)`` after setting each candidate, before
            scoring: BN recalibration on a few batches (see :func:`recalibrate_bn`).
        max_sample_attempts: cap on samples drawn to find one new valid candidate; when the
            cap is hit for a random candidate, :class:`SearchConstraintError` is raised.
        checkpoint: file rewritten atomically after every epoch; with ``resume`` an existing
            one is loaded and the search continues where it stopped, giving the same result
            as an uninterrupted run (it is a pickle: load only files you wrote).
        on_epoch_end: ``fn(epoch, top_k)`` after each epoch's checkpoint (logging, tests).
        init_candidates: choices placed in the first population before the random samples
            (MMRazor's ``init_candidates``): e.g. the finals of an earlier search of a smaller
            space that this one contains. Those outside the constraints are dropped.

    Returns:
        :class:`SearchResult`; the model is left set to the best choices.

    Raises:
        SearchConstraintError: constraints that no sampled subnet satisfies.
        ValueError: bad arguments, or a checkpoint from a search with other settings.

    Example:
        See the module docstring.
    """
    for name, value in dict(num_candidates=num_candidates, top_k=top_k, max_epochs=max_epochs,
                            max_sample_attempts=max_sample_attempts).items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    for name, value in dict(num_mutation=num_mutation, num_crossover=num_crossover).items():
        if not isinstance(value, int) or value < 0:
            raise ValueError(f'{name} must be a non-negative int, got {value!r}')
    if num_mutation + num_crossover > num_candidates:
        raise ValueError(f'num_mutation + num_crossover ({num_mutation + num_crossover}) must '
                         f'not exceed num_candidates ({num_candidates})')
    for name, p in dict(mutate_prob=mutate_prob, crossover_prob=crossover_prob).items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'{name} must be in [0, 1], got {p!r}')
    constraints = dict(constraints or {})
    for k, b in constraints.items():
        if not isinstance(b, (int, float)) and not (isinstance(b, (tuple, list)) and len(b) == 2):
            raise ValueError(f'constraints[{k!r}] must be (lo, hi) or a max, got {b!r}')
        if isinstance(b, list):
            constraints[k] = tuple(b)
    if constraints and estimator is None:
        raise ValueError(f'constraints {sorted(constraints)} need an estimator: pass '
                         f'estimator=ResourceEstimator(...) or a callable model -> dict')
    mutator = resolve_mutator(model) if mutator is None else mutator
    opts = dict(num_candidates=num_candidates, top_k=top_k, num_mutation=num_mutation,
                num_crossover=num_crossover, mutate_prob=mutate_prob,
                crossover_prob=crossover_prob, max_epochs=max_epochs, seed=seed,
                max_sample_attempts=max_sample_attempts)
    init = [dict(c) for c in init_candidates or ()]
    if init:  # part of the settings a checkpoint must match (absent: older checkpoints still load)
        opts['init_candidates'] = [_key(c) for c in init]
    search = _Search(model, evaluate_fn, mutator, constraints, estimator, calibrate_fn, opts, init)
    path = Path(checkpoint) if checkpoint is not None else None
    # Global RNG states are ours to borrow while sampling; give them back afterwards.
    py_state, torch_state = random.getstate(), torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        if path is not None and resume and path.exists():
            search.load_state(pickle.loads(path.read_bytes()))
        # A space smaller than the budget ends early, once every subnet has been scored.
        while search.epoch < max_epochs and (search.population or not search.exhausted):
            search.run_epoch()
            if search.exhausted and not search.population and search.epoch == 0:
                break
            if path is not None and _world_and_rank()[1] == 0:  # rank 0 writes, all resume
                atomic_write_bytes(path, pickle.dumps(search.state()))
            if on_epoch_end is not None:
                on_epoch_end(search.epoch, list(search.top_k))
    finally:
        random.setstate(py_state)
        torch.set_rng_state(torch_state)
    best = search.top_k[0]
    mutator.set_choices(best.choices)
    return SearchResult(dict(best.choices), best.score, dict(best.resources), list(search.top_k),
                        list(search.evaluated.values()), search.epoch)


def random_search(model: Any, evaluate_fn: Callable[[Any], float], *, num_candidates: int = 50,
                  top_k: int = 10, **kwargs: Any) -> SearchResult:
    """Evaluate ``num_candidates`` unique random subnets that satisfy the constraints.

    Same arguments as :func:`evolution_search` (one epoch, no mutation or crossover).

    Example:
        >>> import random
        >>> class Toy:
        ...     current_choices = {'a': 0}
        ...     def sample_choices(self): return {'a': random.randrange(3)}
        ...     def set_choices(self, c): self.current_choices = dict(c)
        >>> random_search(Toy(), lambda m: -m.current_choices['a'], num_candidates=3).best_score
        0.0
    """
    return evolution_search(model, evaluate_fn, num_candidates=num_candidates,
                            top_k=min(top_k, num_candidates), num_mutation=0, num_crossover=0,
                            max_epochs=1, **kwargs)


def subnet_key(choices: Mapping[Any, Any]) -> str:
    """A short stable id of a choices dict (for caches and file names)."""
    return hashlib.sha1(repr(_key(choices)).encode()).hexdigest()[:16]
