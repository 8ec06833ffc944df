"""The plate reader's exception tree."""

from __future__ import annotations


class ReaderError(Exception):
    """The reader cannot work: a model file is missing or does not load."""
