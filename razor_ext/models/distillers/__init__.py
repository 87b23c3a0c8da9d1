"""Distillers: recorders, connectors and losses wired together."""
from razor_ext.models.distillers.configurable_distiller import ConfigurableDistiller

__all__ = ['ConfigurableDistiller']
