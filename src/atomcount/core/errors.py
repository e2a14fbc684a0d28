"""Exception type for user-facing input errors.

The command line turns an :class:`AtomcountError` into a one-line message and a
non-zero exit status instead of a traceback.
"""
from __future__ import annotations


class AtomcountError(ValueError):
    """Invalid user input: bad file, bad array, parameter outside its range."""


def check_range(name: str, value: float, low: float, high: float, unit: str = "") -> float:
    """Return ``value`` as float if ``low <= value <= high``, else raise.

    Parameters
    ----------
    name : str
        Parameter name used in the message.
    value : float
        Value to check.
    low, high : float
        Inclusive bounds, in the same unit as ``value``.
    unit : str, optional
        Unit printed in the message.

    Examples
    --------
    >>> check_range("dose", 100.0, 1.0, 1e6, "e-/A^2")
    100.0
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise AtomcountError(f"{name} must be a number, got {value!r}") from None
    if not (low <= v <= high):  # also rejects NaN
        u = f" {unit}" if unit else ""
        raise AtomcountError(f"{name}={value}{u} is outside the allowed range [{low}, {high}]{u}")
    return v
