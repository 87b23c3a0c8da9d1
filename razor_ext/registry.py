"""Registries: map the ``type`` names used in configs to the classes that build them.

Everything a config can name is registered in one of the four registries defined here:

* :data:`MODELS` - algorithms, architectures, mutables, mutators, distillers, losses, connectors,
  recorders, observers, fake quants, quantizers, data preprocessors;
* :data:`TASK_UTILS` - tracers, estimators;
* :data:`LOOPS` - training / search / calibration loops;
* :data:`HOOKS` - runner hooks;
* :data:`DATASETS` - data sets named in dataloader configs;
* :data:`TRANSFORMS` - data pipeline steps (mmcls's ``LoadImageFromFile``, ``RandomResizedCrop``, ...);
* :data:`METRICS` - evaluators named in ``val_evaluator`` / ``test_evaluator``.

Example:
    >>> from torch import nn
    >>> from razor_ext.registry import Registry
    >>> LAYERS = Registry('layers')
    >>> _ = LAYERS.register_module(module=nn.Linear)
    >>> LAYERS.build(dict(type='Linear', in_features=2), out_features=3)
    Linear(in_features=2, out_features=3, bias=True)
"""
from __future__ import annotations

import contextvars
import difflib
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

__all__ = ['Registry', 'register_not_implemented', 'MODELS', 'TASK_UTILS', 'LOOPS', 'HOOKS', 'DATASETS', 'METRICS', 'TRANSFORMS']

T = TypeVar('T', bound=Callable[..., Any])

# The ``_scope_`` of the dict being built: the nested dicts its constructor builds resolve bare
# names in that scope first ('mmcls' + 'ResNet' -> 'mmcls.ResNet' when registered).
_DEFAULT_SCOPE: contextvars.ContextVar[str | None] = contextvars.ContextVar('razor_scope', default=None)

# How many known names an "unknown type" error lists when none of them is close to the request.
_MAX_LISTED_NAMES = 20


def _qualname(obj: Any) -> str:
    """Readable name of a registered object for messages (``functools.partial`` has no __name__)."""
    module = getattr(obj, '__module__', None)
    name = getattr(obj, '__qualname__', None) or getattr(obj, '__name__', None) or repr(obj)
    return f'{module}.{name}' if module else name


def _copy_containers(obj: Any) -> Any:
    """Copy nested dicts/lists/tuples but share every other value.

    ``build`` hands this copy to the constructor so a constructor that pops keys from a nested
    config (a common pattern) cannot mutate the caller's cfg, while nn.Modules, tensors and
    other objects passed inside the cfg are passed by reference, as the caller expects.
    """
    if isinstance(obj, Mapping):
        copied = {k: _copy_containers(v) for k, v in obj.items()}
        try:
            return type(obj)(copied)  # keep ConfigDict (attribute access) for the constructor
        except Exception:  # a Mapping type that cannot be built from a dict
            return copied
    if isinstance(obj, list):
        return [_copy_containers(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, '_fields'):  # namedtuples keep identity
        return tuple(_copy_containers(v) for v in obj)
    return obj


class Registry:
    """A name -> class (or factory function) table with a config-driven ``build``.

    Args:
        name: Name used in error messages and ``repr``, e.g. ``'models'``.
        parent: Registry searched when a name is not found here, so a project-local
            registry can see everything the library registered.
        locations: Modules imported the first time this registry is searched. Registration
            happens at import time, so this lets ``MODELS.build(dict(type='BaseAlgorithm'))``
            work after importing only ``razor_ext.registry``.

    Lookups (``get``, ``in``, ``build``) search this registry, then its parent chain.
    ``len`` and ``module_dict`` cover only the names registered in this registry itself.

    Example:
        >>> from torch import nn
        >>> LAYERS = Registry('layers')
        >>> @LAYERS.register_module()
        ... class Block(nn.Module):
        ...     def __init__(self, width: int = 4) -> None:
        ...         super().__init__()
        ...         self.fc = nn.Linear(width, width)
        >>> 'Block' in LAYERS, len(LAYERS)
        (True, 1)
        >>> LAYERS.build(dict(type='Block', width=2)).fc.in_features
        2
    """

    def __init__(self, name: str, parent: Registry | None = None,
                 locations: Sequence[str] = ()) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f'Registry name must be a non-empty str, got {name!r}')
        if parent is not None and not isinstance(parent, Registry):
            raise TypeError(f'parent must be a Registry or None, got {type(parent).__name__}')
        self._name = name
        self._parent = parent
        self._module_dict: dict[str, Callable[..., Any]] = {}
        self._locations = tuple(locations)
        self._imported = not self._locations

    # ------------------------------------------------------------------ properties / dunders
    @property
    def name(self) -> str:
        """The registry's name, e.g. ``'models'``."""
        return self._name

    @property
    def parent(self) -> Registry | None:
        """The registry searched when a name is not registered here (or None)."""
        return self._parent

    @property
    def module_dict(self) -> Mapping[str, Callable[..., Any]]:
        """Read-only view of the names registered here (not the parent's).

        Read-only so registration always goes through :meth:`register_module` and its checks.

        Example:
            >>> reg = Registry('demo')
            >>> _ = reg.register_module(module=dict)
            >>> dict(reg.module_dict)
            {'dict': <class 'dict'>}
        """
        self._import_locations()
        return MappingProxyType(self._module_dict)

    def __len__(self) -> int:
        self._import_locations()
        return len(self._module_dict)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        self._import_locations()
        return iter(list(self._module_dict))

    def __repr__(self) -> str:
        self._import_locations()
        items = ', '.join(f'{k}={_qualname(v)}' for k, v in sorted(self._module_dict.items()))
        parent = f', parent={self._parent.name!r}' if self._parent is not None else ''
        return f'Registry(name={self._name!r}{parent}, {len(self._module_dict)} items: [{items}])'

    def keys(self) -> list[str]:
        """Names visible from this registry (its own, then its parents'), sorted.

        Example:
            >>> reg = Registry('demo')
            >>> _ = reg.register_module(module=dict, name=['b', 'a'])
            >>> reg.keys()
            ['a', 'b']
        """
        names: set[str] = set()
        registry: Registry | None = self
        while registry is not None:
            registry._import_locations()
            names.update(registry._module_dict)
            registry = registry._parent
        return sorted(names)

    # ------------------------------------------------------------------ lookup
    def _import_locations(self) -> None:
        """Import ``locations`` once, so their ``register_module`` calls have run."""
        if self._imported:
            return
        # Set first: the imported modules call register_module (and maybe get) on this registry.
        self._imported = True
        try:
            for location in self._locations:
                importlib.import_module(location)
        except BaseException:
            self._imported = False  # let a later lookup retry and show the real import error
            raise

    def get(self, name: str) -> Callable[..., Any] | None:
        """Return the class/function registered as ``name`` here or in a parent, else None.

        ``get`` returns None for unknown names so it can be used as a probe; :meth:`build`
        is the strict path and raises a KeyError with suggestions. A scoped name such as
        ``'mmrazor.SPOS'`` resolves to that exact key if registered, else to ``'SPOS'``.

        Example:
            >>> reg = Registry('demo')
            >>> _ = reg.register_module(module=dict)
            >>> reg.get('dict'), reg.get('nope')
            (<class 'dict'>, None)
        """
        if not isinstance(name, str):
            raise TypeError(f'Registry.get expects a str name, got {type(name).__name__}')
        obj = None
        scope = _DEFAULT_SCOPE.get()
        if scope is not None and '.' not in name:
            # Inside a dict built with ``_scope_='mmcls'`` a bare name means that scope's class
            # first (mmcls's 'ResNet' takes ``depth``, razor_ext's own ``depths``), as in MMEngine.
            obj = self._lookup(f'{scope}.{name}')
        if obj is None:
            obj = self._lookup(name)
        if obj is None and '.' in name:
            # MMRazor / OpenMMLab scoped names ('mmrazor.SPOS', 'mmcls.ImageClassifier'): the
            # exact scoped key wins (a scope may register its own class under a shared name),
            # else the bare name.
            obj = self._lookup(name.split('.', 1)[1])
        return obj

    def _lookup(self, name: str) -> Callable[..., Any] | None:
        registry: Registry | None = self
        while registry is not None:
            registry._import_locations()
            obj = registry._module_dict.get(name)
            if obj is not None:
                return obj
            registry = registry._parent
        return None

    def _unknown_name_error(self, name: str) -> KeyError:
        known = self.keys()
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
        parents = ' or its parents' if self._parent is not None else ''
        msg = f'"{name}" is not registered in registry "{self._name}"{parents}.'
        if close:
            msg += ' Did you mean: ' + ', '.join(f'"{c}"' for c in close) + '?'
        elif not known:
            msg += ' The registry is empty (was the module that registers it imported?).'
        else:
            shown = ', '.join(f'"{k}"' for k in known[:_MAX_LISTED_NAMES])
            hidden = len(known) - _MAX_LISTED_NAMES
            more = f' and {hidden} more' if hidden > 0 else ''
            msg += f' Known names: {shown}{more}.'
        return KeyError(msg)

    # ------------------------------------------------------------------ registration
    def _register(self, module: Callable[..., Any], names: str | Iterable[str] | None,
                  force: bool) -> None:
        if not callable(module):
            raise TypeError(f'Only classes and callables can be registered in registry '
                            f'"{self._name}", got {type(module).__name__}: {module!r}')
        if names is None:
            names = getattr(module, '__name__', None)
            if names is None:
                raise TypeError(f'{module!r} has no __name__; pass name= to register_module')
        name_list = [names] if isinstance(names, str) else list(names)
        for key in name_list:
            if not isinstance(key, str) or not key:
                raise TypeError(f'Registered names must be non-empty str, got {key!r}')
        # Check every name before inserting any, so a failed call leaves the registry unchanged.
        for key in name_list:
            existing = self._module_dict.get(key)
            # Re-registering the very same object is a no-op: it happens when a module is
            # imported twice under different names and is harmless.
            if existing is not None and existing is not module and not force:
                raise KeyError(f'"{key}" is already registered in registry "{self._name}" '
                               f'(by {_qualname(existing)}). Pass force=True to override it.')
        for key in name_list:
            self._module_dict[key] = module

    def register_module(self, name: str | Sequence[str] | None = None, force: bool = False,
                        module: T | None = None) -> Any:
        """Register a class or function, as a decorator or a plain call.

        Args:
            name: Registered name, or a list of names (aliases). Defaults to ``module.__name__``.
            force: Replace an existing entry of the same name instead of raising KeyError.
            module: The object to register; when given this is a plain call that returns it,
                otherwise a decorator is returned.

        Raises:
            KeyError: ``name`` is taken by another object and ``force`` is False.
            TypeError: the name or the module has the wrong type (including the
                ``@REG.register_module`` form without parentheses).

        Example:
            >>> reg = Registry('demo')
            >>> @reg.register_module()
            ... class A: ...
            >>> @reg.register_module(name=['B', 'Bee'])
            ... class B: ...
            >>> _ = reg.register_module(module=dict, name='Dict')
            >>> sorted(reg.module_dict)
            ['A', 'B', 'Bee', 'Dict']
        """
        if isinstance(name, type) or (callable(name) and not isinstance(name, str)):
            # The decorator was used without parentheses: @REG.register_module
            raise TypeError(f'register_module must be called: use @{self._name.upper()}'
                            f'.register_module() (with parentheses), got name={name!r}')
        if name is not None and not isinstance(name, (str, Sequence)):
            raise TypeError(f'name must be None, a str or a sequence of str, got '
                            f'{type(name).__name__}')
        if not isinstance(force, bool):
            raise TypeError(f'force must be a bool, got {type(force).__name__}')
        if module is not None:
            self._register(module, name, force)
            return module

        def decorator(obj: T) -> T:
            self._register(obj, name, force)
            return obj

        return decorator

    # ------------------------------------------------------------------ building
    def build(self, cfg: Mapping[str, Any], **default_args: Any) -> Any:
        """Build an object from a config dict.

        ``cfg['type']`` is a registered name (searched here, then in the parents) or a class /
        callable used as is; the other keys are keyword arguments. ``default_args`` fill the
        keys that ``cfg`` lacks (``type`` included). ``cfg`` is never mutated. Nested config
        dicts are passed through unbuilt: the class that owns them builds them.

        Raises:
            TypeError: ``cfg`` is not a mapping, or ``type`` is neither a str nor callable.
            KeyError: ``type`` is missing, or is a name not registered (the message lists the
                closest registered names).
            Exception: whatever the constructor raised, same type, with the class and
                registry names prepended to the message and the original chained.

        Example:
            >>> from torch import nn
            >>> reg = Registry('demo')
            >>> _ = reg.register_module(module=nn.ReLU)
            >>> reg.build(dict(type='ReLU'), inplace=True)
            ReLU(inplace=True)
        """
        if not isinstance(cfg, Mapping):
            raise TypeError(f'Registry "{self._name}" builds from a dict config, got '
                            f'{type(cfg).__name__}: {cfg!r}')
        args = _copy_containers(dict(default_args))
        args.update(_copy_containers(dict(cfg)))
        if 'type' not in args:
            raise KeyError(f'Config for registry "{self._name}" must have a "type" key naming '
                           f'what to build, got keys {sorted(map(str, cfg))} '
                           f'(default_args keys {sorted(default_args)})')
        obj_type = args.pop('type')
        scope = args.pop('_scope_', None)  # OpenMMLab's default-scope key
        if isinstance(obj_type, str):
            outer = _DEFAULT_SCOPE.set(scope) if isinstance(scope, str) else None
            try:
                obj_cls = self.get(obj_type)
            finally:
                if outer is not None:
                    _DEFAULT_SCOPE.reset(outer)
            if obj_cls is None:
                raise self._unknown_name_error(obj_type)
        elif callable(obj_type):
            obj_cls = obj_type
        else:
            raise TypeError(f'"type" must be a registered name (str) or a class/callable, got '
                            f'{type(obj_type).__name__}: {obj_type!r}')
        token = _DEFAULT_SCOPE.set(scope) if isinstance(scope, str) else None
        try:
            return obj_cls(**args)
        except Exception as err:
            cls_name = getattr(obj_cls, '__name__', None) or repr(obj_cls)
            prefix = f'{cls_name} (registry "{self._name}")'
            # str(KeyError) is the repr of its message; use the message itself.
            detail = (err.args[0] if isinstance(err, KeyError) and len(err.args) == 1
                      and isinstance(err.args[0], str) else str(err))
            try:
                wrapped = type(err)(f'{prefix}: {detail}')
            except Exception:
                wrapped = None
            if wrapped is None:
                # An exception type whose constructor takes other arguments: re-raise the
                # original object with the context attached as a note instead.
                err.add_note(f'while building {prefix}')
                raise
            raise wrapped from err
        finally:
            if token is not None:
                _DEFAULT_SCOPE.reset(token)


def register_not_implemented(registry: Registry, names: Sequence[str], reason: str) -> None:
    """Register MMRazor names razor_ext lacks, so building one fails with a clear message (not
    an "unknown name" error that suggests a different class): ``NotImplementedError: DMCP is not
    implemented in razor_ext: <reason> (docs/mmrazor_compat.md)``. Each name also answers under
    ``mmrazor.<name>``.

    Example:
        >>> reg = Registry('demo')
        >>> register_not_implemented(reg, ['Magic'], 'no paper to follow')
        >>> reg.build(dict(type='mmrazor.Magic'))
        Traceback (most recent call last):
        ...
        NotImplementedError: Magic (registry "demo"): Magic is not implemented in razor_ext: no paper to follow (docs/mmrazor_compat.md)
    """
    for name in names:
        message = f'{name} is not implemented in razor_ext: {reason} (docs/mmrazor_compat.md)'

        def refuse(*args: Any, _message: str = message, **kwargs: Any) -> Any:
            raise NotImplementedError(_message)

        refuse.__name__ = refuse.__qualname__ = name
        refuse.__doc__ = message
        registry.register_module(name=[name, f'mmrazor.{name}'], module=refuse)


# Each registry imports the packages that register into it the first time it is searched (they
# import this module, so it cannot import them at its own import time).
MODELS = Registry('models', locations=[
    'razor_ext.algorithm', 'razor_ext.supernet', 'razor_ext.architectures', 'razor_ext.nas',
    'razor_ext.pruning', 'razor_ext.distill', 'razor_ext.quantization', 'razor_ext.joint'])
TASK_UTILS = Registry('task_utils', locations=['razor_ext.analysis', 'razor_ext.estimators'])
LOOPS = Registry('loops', locations=['razor_ext.engine'])
HOOKS = Registry('hooks', locations=['razor_ext.engine'])
DATASETS = Registry('datasets', locations=['razor_ext.data'])
TRANSFORMS = Registry('transforms', locations=['razor_ext.data'])
METRICS = Registry('metrics', locations=['razor_ext.engine'])
# Checkpoint formats that carry a recipe to replay before the weights load (a pruned model's
# shapes), keyed by the file's ``format``: razor_ext.algorithm.load_weights looks them up here.
WEIGHT_LOADERS = Registry('weight_loaders', locations=['razor_ext.pruning'])
