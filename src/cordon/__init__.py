"""Cordon: follow reported material to its host and its payments."""

__version__ = "0.1.0"
