"""The refusals of the domain, in one hierarchy: each with a stable code and its parameters."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; its message says why."""
