"""Config: a loaded config (a :class:`ConfigDict` plus its file), overrides and dumping."""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from razor_ext.config.config_dict import (ConfigDict, missing_key_message, refuse_shadowing,
                                          to_config)
from razor_ext.config.dumping import serialize, to_py_text
from razor_ext.config.loading import format_of, load, merge
from razor_ext.config.model_refs import expand_cfg_paths
from razor_ext.config.openmmlab_scopes import check_supported_scope, register_openmmlab_scopes
from razor_ext.config.scopes import resolve_config_path
from razor_ext.fileio import atomic_write_text


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

        ``path`` (and each ``_base_``) may name a registered scope, ``'scope::rel/path.py'``
        (:func:`razor_ext.config.register_scope`; ``mmcls::`` is shipped, ``mmrazor::`` follows
        ``$MMRAZOR_ROOT``). The body may read base values (``_base_.model`` in ``.py``,
        ``{{_base_.x}}`` anywhere), and dicts with ``cfg_path=`` become the named config's model.
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
        register_openmmlab_scopes()
        check_supported_scope(path)
        path = resolve_config_path(path)
        return cls(expand_cfg_paths(load(path, ()), path.parent), filename=path)

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
            raise AttributeError(missing_key_message(f'Config{where}', name,
                                                     list(cfg_dict))) from None

    def __setattr__(self, name: str, value: Any) -> None:
        refuse_shadowing(self, name)
        self._cfg_dict[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._cfg_dict[name]
        except KeyError:
            raise AttributeError(
                missing_key_message('Config', name, list(self._cfg_dict))) from None

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
                    node[key] = to_config(merge(old, {'v': value})['v'])
                else:
                    node = node[key]

    # ------------------------------------------------------------------ output
    @property
    def pretty_text(self) -> str:
        """The config as ``.py`` source (values that are not literals shown with repr)."""
        return to_py_text(self._cfg_dict, strict=False)

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
            fmt = format_of(Path(self._filename)) if self._filename else 'py'
            return serialize(data, fmt)
        path = Path(os.path.expanduser(path))
        text = serialize(data, format_of(path))
        atomic_write_text(path, text)
        return None
