"""Config files: ``.py`` / ``.yaml`` / ``.json`` with ``_base_`` inheritance and ``_delete_``.

Example:
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / 'base.py').write_text("model = dict(type='ResNet', depth=18, out=10)\\n")
    >>> _ = (d / 'exp.yaml').write_text("_base_: base.py\\nmodel: {depth: 50}\\n")
    >>> cfg = Config.fromfile(d / 'exp.yaml')
    >>> cfg.model.type, cfg['model']['depth'], cfg.model.out
    ('ResNet', 50, 10)
"""
from __future__ import annotations

import difflib
import json
import keyword
import math
import os
import secrets
import types
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ['Config', 'ConfigDict', 'ConfigParseError']

BASE_KEY = '_base_'
DELETE_KEY = '_delete_'
_FORMATS = {'.py': 'py', '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json'}
_LINE_WIDTH = 79


class ConfigParseError(ValueError):
    """A config file could not be parsed; ``filename`` and ``lineno`` say where.

    Example:
        >>> err = ConfigParseError('exp.yaml', 3, 'mapping values are not allowed here')
        >>> str(err)
        'exp.yaml:3: mapping values are not allowed here'
    """

    def __init__(self, filename: str, lineno: int | None, msg: str) -> None:
        self.filename = filename
        self.lineno = lineno
        self.msg = msg
        where = f'{filename}:{lineno}' if lineno is not None else filename
        super().__init__(f'{where}: {msg}')

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduce would call __init__ with the single formatted message.
        return type(self), (self.filename, self.lineno, self.msg)


# ---------------------------------------------------------------------------------------------
# ConfigDict
# ---------------------------------------------------------------------------------------------
def _to_config(value: Any) -> Any:
    """Turn nested dicts (also inside lists/tuples) into ConfigDicts for attribute access."""
    if isinstance(value, ConfigDict):
        return value
    if isinstance(value, Mapping):
        return ConfigDict(value)
    if isinstance(value, list):
        return [_to_config(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, '_fields'):
        return tuple(_to_config(v) for v in value)
    return value


def _to_plain(value: Any) -> Any:
    """Turn ConfigDicts (also inside lists/tuples) back into plain dicts."""
    if isinstance(value, Mapping):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, '_fields'):
        return tuple(_to_plain(v) for v in value)
    return value


def _missing_key_message(owner: str, name: str, keys: list[Any]) -> str:
    str_keys = [k for k in keys if isinstance(k, str)]
    close = difflib.get_close_matches(name, str_keys, n=3)
    hint = f' Did you mean: {", ".join(map(repr, close))}?' if close else ''
    return f'{owner} has no key {name!r}.{hint} Keys: {sorted(str_keys)}'


def _refuse_shadowing(obj: Any, name: str) -> None:
    # The key would be stored but ``obj.name`` would keep returning the method/property.
    if hasattr(type(obj), name):
        raise AttributeError(f'{name!r} is an attribute of {type(obj).__name__}; set the key '
                             f'with item access: obj[{name!r}] = ...')


class ConfigDict(dict):
    """A dict whose keys are also attributes; nested dicts are ConfigDicts too.

    Keys that collide with dict methods (``items``, ``keys``, ``update``, ...) are reachable
    only with item access. A missing attribute raises AttributeError naming the key.

    Example:
        >>> cfg = ConfigDict(model=dict(type='ResNet', depth=50))
        >>> cfg.model.depth
        50
        >>> cfg.model.width = 2
        >>> cfg.to_dict()
        {'model': {'type': 'ResNet', 'depth': 50, 'width': 2}}
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            # AttributeError (not KeyError) keeps hasattr/getattr/copy/pickle working.
            raise AttributeError(_missing_key_message('ConfigDict', name, list(self))) from None

    def __setattr__(self, name: str, value: Any) -> None:
        _refuse_shadowing(self, name)
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(_missing_key_message('ConfigDict', name, list(self))) from None

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, _to_config(value))

    # dict's C implementations of these bypass __setitem__, so nested dicts would stay plain.
    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, other: Any) -> ConfigDict:  # type: ignore[override]
        self.update(other)
        return self

    def copy(self) -> ConfigDict:
        """Shallow copy that stays a ConfigDict."""
        return ConfigDict(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict copy (ConfigDicts inside lists/tuples converted too)."""
        return _to_plain(self)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def _format_of(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f'Unsupported config file extension {path.suffix!r} for {path}; '
                         f'expected one of {sorted(_FORMATS)}')
    return fmt


def _parse_py(path: Path, text: str) -> dict[str, Any]:
    try:
        code = compile(text, str(path), 'exec')
    except SyntaxError as err:
        raise ConfigParseError(str(path), err.lineno, f'SyntaxError: {err.msg}') from err
    namespace: dict[str, Any] = {'__file__': str(path), '__name__': '__razor_ext_config__'}
    try:
        exec(code, namespace)
    except Exception as err:
        # Report the deepest line of the config file itself (not of a library it called).
        lineno = None
        tb = err.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == str(path):
                lineno = tb.tb_lineno
            tb = tb.tb_next
        raise ConfigParseError(str(path), lineno, f'{type(err).__name__}: {err}') from err
    # Imported modules, helper functions and classes are tools for writing the config, and
    # private names are scratch variables: none of them is config content.
    return {
        k: v for k, v in namespace.items()
        if (k == BASE_KEY or not k.startswith('_')) and not isinstance(
            v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type))
    }


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        lineno = mark.line + 1 if mark is not None else None
        msg = ' '.join(p for p in (err.context, err.problem) if p) or str(err)
        raise ConfigParseError(str(path), lineno, f'YAML error: {msg}') from err
    except yaml.YAMLError as err:
        raise ConfigParseError(str(path), None, f'YAML error: {err}') from err


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigParseError(str(path), err.lineno,
                               f'JSON error: {err.msg} (column {err.colno})') from err


_PARSERS = {'py': _parse_py, 'yaml': _parse_yaml, 'json': _parse_json}


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``child`` into a copy of ``base``; the child wins.

    A child dict with ``_delete_=True`` replaces the base value instead of merging into it.
    Lists and scalars replace. Neither input is mutated.
    """
    merged = dict(base)
    for key, value in child.items():
        if key == DELETE_KEY:
            continue
        if isinstance(value, Mapping):
            delete = bool(value.get(DELETE_KEY, False))
            old = merged.get(key)
            if not delete and isinstance(old, Mapping):
                merged[key] = _merge(old, value)
            else:
                merged[key] = _strip_delete(value)
        else:
            merged[key] = value
    return merged


def _strip_delete(value: Any) -> Any:
    """Remove ``_delete_`` markers that have no base to act on."""
    if isinstance(value, Mapping):
        return {k: _strip_delete(v) for k, v in value.items() if k != DELETE_KEY}
    return value


def _load(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Parse ``path`` and resolve its ``_base_`` files (relative to ``path``'s folder)."""
    fmt = _format_of(path)
    if path in chain:
        cycle = ' -> '.join(str(p) for p in (*chain[chain.index(path):], path))
        raise ValueError(f'Circular _base_ inheritance: {cycle}')
    if not path.is_file():
        via = f' (a _base_ of {chain[-1]})' if chain else ''
        raise FileNotFoundError(2, f'Config file not found: {path}{via}', str(path))
    raw = _PARSERS[fmt](path, path.read_text(encoding='utf-8'))
    if raw is None:  # an empty yaml file
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigParseError(str(path), 1, f'the top level of a config must be a mapping, '
                                             f'got {type(raw).__name__}')
    raw = dict(raw)
    bases = raw.pop(BASE_KEY, None)
    if bases is None:
        return _strip_delete(raw)
    if isinstance(bases, (str, os.PathLike)):
        bases = [bases]
    if not isinstance(bases, (list, tuple)) or not all(
            isinstance(b, (str, os.PathLike)) for b in bases):
        raise TypeError(f'{path}: _base_ must be a path or a list of paths, got {bases!r}')
    merged: dict[str, Any] = {}
    for base in bases:
        base_path = Path(os.path.expanduser(base))
        if not base_path.is_absolute():
            base_path = path.parent / base_path
        # Later bases override earlier ones, as in a chain.
        merged = _merge(merged, _load(Path(os.path.abspath(base_path)), (*chain, path)))
    return _merge(merged, raw)


# ---------------------------------------------------------------------------------------------
# Dumping
# ---------------------------------------------------------------------------------------------
_SCALARS = (str, bool, int, float, type(None))


def _check_dumpable(value: Any, key_path: str, fmt: str) -> None:
    """Raise TypeError naming the key of the first value ``fmt`` cannot represent."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            sub = f'{key_path}.{k}' if key_path else str(k)
            if fmt == 'json' and not isinstance(k, str):
                # json.dumps would silently turn the key into a str and break the round trip.
                raise TypeError(f'Cannot dump config key {sub!r} to .json: keys must be str, '
                                f'got {type(k).__name__}')
            if fmt != 'json' and not isinstance(k, _SCALARS):
                raise TypeError(f'Cannot dump config key {sub!r} of type {type(k).__name__}')
            _check_dumpable(v, sub, fmt)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_dumpable(v, f'{key_path}.{i}', fmt)
    elif not isinstance(value, _SCALARS):
        raise TypeError(f'Cannot dump config value at {key_path!r} of type '
                        f'{type(value).__name__} to .{fmt}: only dict, list, tuple, str, int, '
                        f'float, bool and None can be written')


def _tuples_to_lists(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _tuples_to_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tuples_to_lists(v) for v in value]
    return value


def _py_scalar(value: Any, strict: bool) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"  # repr gives inf/nan, which are not Python literals
    if isinstance(value, _SCALARS) or not strict:
        return repr(value)
    raise TypeError(f'cannot write {type(value).__name__} as a Python literal')


def _is_identifier(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def _py_literal(value: Any, indent: int, strict: bool, used: int) -> str:
    """Format ``value`` as Python source: one line if it fits, else one item per line.

    ``indent`` is the indentation of the line the literal starts on and ``used`` how many
    characters of that line come before it.
    """
    if isinstance(value, Mapping):
        as_call = all(_is_identifier(k) for k in value)  # dict(a=1) reads like the configs
        keys = [f'{k}=' if as_call else f'{_py_scalar(k, strict)}: ' for k in value]
        items = [key + _py_literal(v, indent + 4, strict, indent + 4 + len(key))
                 for key, v in zip(keys, value.values())]
        opening, closing = ('dict(', ')') if as_call else ('{', '}')
    elif isinstance(value, (list, tuple)):
        items = [_py_literal(v, indent + 4, strict, indent + 4) for v in value]
        opening, closing = ('[', ']') if isinstance(value, list) else ('(', ')')
        if isinstance(value, tuple) and len(items) == 1:
            items[0] += ','  # (x,) not (x)
    else:
        return _py_scalar(value, strict)
    one_line = opening + ', '.join(items) + closing
    if '\n' not in one_line and used + len(one_line) <= _LINE_WIDTH:
        return one_line
    pad = ' ' * (indent + 4)
    if isinstance(value, (list, tuple)) and not any(
            isinstance(v, (Mapping, list, tuple)) for v in value):
        # Long runs of numbers/strings: fill lines instead of one item per line.
        lines, line = [], ''
        for item in items:
            if line and len(pad) + len(line) + len(item) + 1 > _LINE_WIDTH:
                lines.append(line.rstrip())
                line = ''
            line += item + ', '
        lines.append(line.rstrip())
        return opening + '\n' + ''.join(f'{pad}{ln}\n' for ln in lines) + ' ' * indent + closing
    return opening + '\n' + ''.join(f'{pad}{item},\n' for item in items) + ' ' * indent + closing


def _to_py_text(data: Mapping[str, Any], strict: bool = True) -> str:
    lines = []
    for key, value in data.items():
        if strict and (not _is_identifier(key) or key.startswith('_')):
            raise ValueError(f'Cannot dump top-level key {key!r} to .py: it must be a public '
                             f'identifier to be assigned and re-loaded')
        lines.append(f'{key} = {_py_literal(value, 0, strict, len(key) + 3)}\n')
    return ''.join(lines)


def _serialize(data: dict[str, Any], fmt: str) -> str:
    _check_dumpable(data, '', fmt)
    if fmt == 'py':
        return _to_py_text(data)
    if fmt == 'yaml':
        return yaml.safe_dump(_tuples_to_lists(data), sort_keys=False, allow_unicode=True,
                              default_flow_style=False)
    return json.dumps(data, indent=4, ensure_ascii=False) + '\n'


def _atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    The data goes to a temp file in the same folder (same filesystem, so ``os.replace`` is an
    atomic rename), is fsynced, then renamed over ``path``; on any failure the temp file is
    removed and ``path`` is untouched.
    """
    tmp = path.with_name(f'.{path.name}.{secrets.token_hex(6)}.tmp')
    # os.open with 0o666 applies the umask like a normal open (tempfile would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)  # keep the permissions of the old file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable; not every platform can fsync a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------
class Config(MutableMapping):
    """A loaded config: a :class:`ConfigDict` plus the file it came from.

    Supports attribute access (``cfg.model.type``), item access (``cfg['model']['type']``) and
    the mapping protocol; keys that collide with method names (``dump``, ``filename``, ...)
    need item access.

    Example:
        >>> cfg = Config(dict(model=dict(type='ResNet', depth=18)))
        >>> cfg.merge_from_dict({'model.depth': 50, 'optim.lr': 0.1})
        >>> cfg.model.depth, cfg.optim.lr
        (50, 0.1)
        >>> print(cfg.pretty_text, end='')
        model = dict(type='ResNet', depth=50)
        optim = dict(lr=0.1)
    """

    def __init__(self, cfg_dict: Mapping[str, Any] | None = None,
                 filename: str | os.PathLike[str] | None = None) -> None:
        if cfg_dict is None:
            cfg_dict = {}
        if not isinstance(cfg_dict, Mapping):
            raise TypeError(f'cfg_dict must be a mapping, got {type(cfg_dict).__name__}')
        object.__setattr__(self, '_cfg_dict', ConfigDict(cfg_dict))
        object.__setattr__(self, '_filename', None if filename is None else str(filename))

    @classmethod
    def fromfile(cls, path: str | os.PathLike[str]) -> Config:
        """Load a ``.py``, ``.yaml``/``.yml`` or ``.json`` config, resolving ``_base_`` files.

        ``_base_`` is a path or a list of paths relative to the file that names it; bases are
        merged in order, then the file itself on top. In ``.py`` files every module-level name
        is a key except private names, modules, functions and classes.

        Raises:
            ValueError: unknown extension, or a ``_base_`` cycle.
            FileNotFoundError: the file, or one of its bases, does not exist.
            ConfigParseError: a file does not parse; the message names the file and line.

        Example:
            >>> import pathlib, tempfile
            >>> p = pathlib.Path(tempfile.mkdtemp()) / 'cfg.json'
            >>> _ = p.write_text('{"lr": 0.1}')
            >>> Config.fromfile(p).lr
            0.1
        """
        path = Path(os.path.abspath(os.path.expanduser(path)))
        return cls(_load(path, ()), filename=path)

    @property
    def filename(self) -> str | None:
        """Absolute path of the file this config was loaded from, or None."""
        return self._filename

    # ------------------------------------------------------------------ access
    def __getattr__(self, name: str) -> Any:
        cfg_dict = self.__dict__.get('_cfg_dict')  # absent while copy/pickle rebuild the object
        if cfg_dict is None or name.startswith('__'):
            raise AttributeError(name)
        try:
            return cfg_dict[name]
        except KeyError:
            where = f' ({self._filename})' if self._filename else ''
            raise AttributeError(_missing_key_message(f'Config{where}', name,
                                                      list(cfg_dict))) from None

    def __setattr__(self, name: str, value: Any) -> None:
        _refuse_shadowing(self, name)
        self._cfg_dict[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._cfg_dict[name]
        except KeyError:
            raise AttributeError(
                _missing_key_message('Config', name, list(self._cfg_dict))) from None

    def __getitem__(self, key: str) -> Any:
        return self._cfg_dict[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._cfg_dict[key] = value

    def __delitem__(self, key: str) -> None:
        del self._cfg_dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cfg_dict)

    def __len__(self) -> int:
        return len(self._cfg_dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict copy of the config.

        Example:
            >>> Config(dict(a=dict(b=1))).to_dict()
            {'a': {'b': 1}}
        """
        return self._cfg_dict.to_dict()

    # ------------------------------------------------------------------ overrides
    def merge_from_dict(self, options: Mapping[str, Any]) -> None:
        """Apply dotted-key overrides, e.g. from the command line.

        ``'a.b.c'`` walks (and creates) nested dicts; an all-digit part indexes a list
        (``'layers.0.width'``). A dict value is merged into an existing dict (honouring
        ``_delete_``); any other value replaces.

        Raises:
            TypeError: a path goes through a value that is neither a dict nor a list.
            IndexError: a list index is out of range.

        Example:
            >>> cfg = Config(dict(layers=[dict(w=1), dict(w=2)]))
            >>> cfg.merge_from_dict({'layers.1.w': 8, 'train.epochs': 3})
            >>> cfg.to_dict()
            {'layers': [{'w': 1}, {'w': 8}], 'train': {'epochs': 3}}
        """
        for dotted, value in options.items():
            if not isinstance(dotted, str) or not dotted:
                raise TypeError(f'override keys must be non-empty dotted str, got {dotted!r}')
            parts = dotted.split('.')
            node: Any = self._cfg_dict
            for depth, part in enumerate(parts):
                last = depth == len(parts) - 1
                where = '.'.join(parts[:depth]) or '<root>'
                if isinstance(node, list):
                    if not part.lstrip('-').isdigit():
                        raise TypeError(f'Cannot apply {dotted!r}: {where!r} is a list, so '
                                        f'{part!r} must be an index')
                    index = int(part)
                    if not -len(node) <= index < len(node):
                        raise IndexError(f'Cannot apply {dotted!r}: index {index} out of range '
                                         f'for {where!r} of length {len(node)}')
                    key: Any = index
                elif isinstance(node, Mapping):
                    key = part
                    if not last and key not in node:
                        node[key] = ConfigDict()
                else:
                    raise TypeError(f'Cannot apply {dotted!r}: {where!r} is a '
                                    f'{type(node).__name__}, not a dict or list')
                if last:
                    # Same rules as _base_ merging (dicts merge, _delete_ replaces).
                    old = {'v': node[key]} if isinstance(node, list) or key in node else {}
                    node[key] = _to_config(_merge(old, {'v': value})['v'])
                else:
                    node = node[key]

    # ------------------------------------------------------------------ output
    @property
    def pretty_text(self) -> str:
        """The config as ``.py`` source (values that are not literals shown with repr)."""
        return _to_py_text(self._cfg_dict, strict=False)

    def __repr__(self) -> str:
        return f'Config (path: {self._filename}):\n{self.pretty_text}'

    def dump(self, path: str | os.PathLike[str] | None = None) -> str | None:
        """Write the config to ``path`` atomically, in the format of its extension.

        With ``path=None`` return the text in the format of :attr:`filename` (``.py`` when
        there is none) instead. Tuples become lists in ``.yaml``/``.json``, which have no
        tuple type; values that are not plain data (classes, tensors, ...) raise TypeError.

        Example:
            >>> import pathlib, tempfile
            >>> p = pathlib.Path(tempfile.mkdtemp()) / 'out.yaml'
            >>> Config(dict(model=dict(depth=50))).dump(p)
            >>> Config.fromfile(p).to_dict()
            {'model': {'depth': 50}}
        """
        data = self.to_dict()
        if path is None:
            fmt = _format_of(Path(self._filename)) if self._filename else 'py'
            return _serialize(data, fmt)
        path = Path(os.path.expanduser(path))
        text = _serialize(data, _format_of(path))
        _atomic_write_text(path, text)
        return None
