"""The one base of every error whose message is the whole story for a user (the CLI prints it as one line)."""

from __future__ import annotations

__all__ = ["VantageError"]


class VantageError(Exception):
    """An error vantage raises on purpose: bad input, a missing or foreign file, a run that cannot go on.
    Subclasses also derive from the built-in type callers already catch (ValueError, OSError, ...)."""
