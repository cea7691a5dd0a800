"""Earmark: an open, self-hostable audio identification service compatible with AcoustID."""

__version__ = "0.1.0.dev0"
