"""Bridges to other frameworks, each importable only where that framework is installed.

Example:
    >>> import importlib.util
    >>> if importlib.util.find_spec('mmengine'):
    ...     from razor_ext.integrations.mmengine import register_into_mmengine
"""
__all__: list[str] = []
