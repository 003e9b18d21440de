"""The text v5's YAML gives a plain scalar read into a string field (FORMAT.md 4.1)."""
from __future__ import annotations

import math
import re
from decimal import Decimal

# The words the v5 tool's YAML (1.2 core schema) reads as null, booleans, infinities, NaN.
_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_BOOL = {"true": "true", "True": "true", "TRUE": "true",
         "false": "false", "False": "false", "FALSE": "false"}
_INF = frozenset((".inf", ".Inf", ".INF"))
WORDS = _NULL | frozenset(_BOOL)  # the words that are no string
_NAN = frozenset((".nan", ".NaN", ".NAN"))
_DIGITS = {16: re.compile(r"[0-9a-fA-F]+"), 10: re.compile(r"[0-9]+"),
           8: re.compile(r"[0-7]+"), 2: re.compile(r"[01]+")}
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_PREFIXES = (("0x", 16), ("0o", 8), ("0b", 2))


def plain_text(text: str) -> str:
    """A plain (unquoted) scalar as v5 takes it for a name: null is empty, a boolean is
    `true`/`false`, a number is its value written as Go prints it (`0x10` is `16`, `1.50`
    is `1.5`, `1000000.0` is `1e+06`, `.inf` is `+Inf`), anything else its text."""
    if text in _NULL:
        return ""
    if text in _BOOL:
        return _BOOL[text]
    if text[0].isalpha():  # (most names: no number, infinity or NaN starts so)
        return text
    if text in _INF:
        return "+Inf"
    if text[:1] == "-" and text[1:] in _INF:
        return "-Inf"
    if text in _NAN:
        return "NaN"
    number = _number(text)
    return text if number is None else number


def plain_kind(text: str) -> str:
    """What v5's YAML makes of a plain (unquoted, untagged) scalar: `null`, `boolean`,
    `integer`, `float` (infinities and NaN too) or `string`."""
    if text in _NULL:
        return "null"
    if text in _BOOL:
        return "boolean"
    if text[0].isalpha():  # (most keys and names: no number starts so)
        return "string"
    if text in _INF or (text[:1] == "-" and text[1:] in _INF) or text in _NAN:
        return "float"
    number = _number(text)
    if number is None:
        return "string"
    return "integer" if _is_integer(text) else "float"


def _is_integer(text: str) -> bool:
    # _number read it as a number: with a '.' (and no base prefix) it is a float.
    digits = text.lstrip("+-").lower()
    return "." not in text or digits.startswith(("0x", "0o", "0b"))


def _number(text: str) -> str | None:
    """The value of a scalar the YAML reads as a number, as text; None for any other text
    (and for a number out of range, which the YAML then keeps as a string)."""
    if text.startswith("_") or text.count(".") > 1:
        return None
    negative = text.startswith("-")
    digits = text.removeprefix("+").removeprefix("-").replace("_", "")
    base = 10
    for prefix, prefix_base in _PREFIXES:
        if digits.startswith(prefix):
            digits, base = digits[len(prefix):], prefix_base
            break
    else:
        if "." in text:
            return _float(("-" if negative else "") + digits)
        if digits.startswith("0") and len(digits) > 1:
            base = 8  # a leading zero is octal
    if not _DIGITS[base].fullmatch(digits):
        return None
    value = -int(digits, base) if negative else int(digits, base)
    return str(value) if -2 ** 63 <= value < 2 ** 64 else None


def _float(text: str) -> str | None:
    if not _FLOAT.fullmatch(text):
        return None
    value = float(text)
    return None if math.isinf(value) else go_float(value)


def go_float(value: float) -> str:
    """``value`` as Go's fmt prints a float64: the shortest digits that read back as it,
    in exponent form when the exponent is below -4 or 6 and above (`1e+06`, `1e-05`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    # repr holds the shortest digits that read back as the value, as Go's do.
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, shortest.digits))
    point = len(digits) + shortest.exponent  # digits before the decimal point
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"
