"""Errors for Sparkplug B input that does not follow the specification."""

from __future__ import annotations


class SparkplugError(ValueError):
    """A topic, payload or value that does not follow the Sparkplug B specification; the message says what."""


class PayloadError(SparkplugError):
    """A payload or metric value that cannot be decoded or encoded as its datatype requires."""
