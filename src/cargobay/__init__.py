"""Cargobay: a container image hub and a daemonless image client."""

__version__ = "0.1.0"
