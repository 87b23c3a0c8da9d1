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
from razor_ext.config.config import Config
from razor_ext.config.config_dict import ConfigDict
from razor_ext.config.loading import ConfigParseError
from razor_ext.config.scopes import register_scope, registered_scopes, resolve_config_path
from razor_ext.config.shipped import shipped_configs  # registers the razor_ext:: scope

__all__ = ['Config', 'ConfigDict', 'ConfigParseError', 'register_scope', 'registered_scopes',
           'resolve_config_path', 'shipped_configs']
