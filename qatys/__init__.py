"""Qatys command line and what all its processes share (logging, version)."""

__version__ = "0.1.0"
