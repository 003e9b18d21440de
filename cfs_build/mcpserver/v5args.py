"""The v5 tools' arguments checked as v5's MCP library checks them, in its words.

v5 declares each tool's arguments as a Go struct; its MCP library (the official Go SDK)
derives the input schema from it (every field required, no other property allowed) and
checks each call against that schema before the tool runs. A call that does not fit is an
error result whose text is the schema validator's sentence, prefixed by `validating
"arguments": `. The checks run in the validator's order: the declared properties' types,
then properties that are not declared, then the required ones that are missing.
"""
from __future__ import annotations

import re

from ..reading.go_scalars import go_float as float_text
from ..reading.unparsed import go_quote as quoted

ARGUMENTS = 'validating "arguments": '
ROOT = "validating root: "
_SURROGATE = re.compile("[\ud800-\udfff]")


def check(properties: tuple[str, ...], args: dict) -> str | None:
    """The error text for ``args`` (a JSON object) against a v5 tool taking the string
    arguments ``properties``, or None when they fit."""
    for name in properties:
        if name in args and json_type(args[name]) != "string":
            value = args[name]
            return (f"{ARGUMENTS}{ROOT}validating /properties/{name}: type: "
                    f'{instance(value)} has type "{json_type(value)}", want "string"')
    extra = [name for name in args if name not in properties]
    if extra:
        return f"{ARGUMENTS}{ROOT}unexpected additional properties {go_strings(extra)}"
    missing = [name for name in properties if name not in args]
    if missing:
        return f"{ARGUMENTS}{ROOT}required: missing properties: {go_strings(missing)}"
    return None


def json_type(value) -> str:
    """The JSON Schema type of a decoded JSON value; a number with no fraction is an
    integer, as the validator counts it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        try:
            return "integer" if float(value).is_integer() else "number"
        except OverflowError:
            return "integer"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def instance(value) -> str:
    """The offending value as the validator prints it (Go's %v of the decoded value; a
    null is the reflection of nothing)."""
    return "<invalid reflect.Value>" if value is None else go_value(value)


def go_value(value) -> str:
    """Go's %v of a JSON value decoded into Go's generic types."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    items = sorted(value.items())
    return "map[" + " ".join(f"{key}:{go_value(item)}" for key, item in items) + "]"


def go_float(number) -> str:
    """Go's %v of a float64 (Go decodes every JSON number as a float64); an integer too
    big for one is written as it came."""
    try:
        return float_text(float(number))
    except OverflowError:
        return str(number)


def go_strings(names: list[str]) -> str:
    """Go's %q of a list of strings: each quoted, space-separated, in brackets."""
    return "[" + " ".join(go_quote(name) for name in names) + "]"


def go_quote(text: str) -> str:
    """Go's %q of a string from JSON: a lone surrogate is no rune, Go's decoder made it
    U+FFFD (reading.unparsed.go_quote would take it for a byte that is not UTF-8)."""
    return quoted(_SURROGATE.sub("\ufffd", text))
