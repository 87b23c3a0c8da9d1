"""The engine: loops, hooks and searches."""
from razor_ext.engine.search import evolution_search, random_search  # noqa: F401
