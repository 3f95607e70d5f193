"""Argparse types for numeric options with a range: a value outside it is a one-line
error naming the option and the allowed range (argparse adds ``argument --top-p:``),
instead of a silent no-op (``--max-tokens -3`` scored everything) or a crash deep inside.
"""

from __future__ import annotations

import argparse


def _number(text: str, kind: type, allowed: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {allowed}; got {text!r}") from None


def non_negative_int(text: str) -> int:
    """An int >= 0 (0 usually means "no limit" or "off")."""
    value = _number(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {value}")
    return value


def positive_int(text: str) -> int:
    """An int >= 1 (a count or a step that cannot be zero)."""
    value = _number(text, int, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {value}")
    return value


def probability_mass(text: str) -> float:
    """A float in (0, 1]: nucleus sampling keeps the smallest set with this much mass."""
    value = _number(text, float, "a number in (0, 1]")
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1]; got {value:g}")
    return value
