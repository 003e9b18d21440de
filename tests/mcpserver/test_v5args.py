"""v5args: the v5 tools' arguments checked in the words of v5's MCP library (the Go SDK
over jsonschema-go), its values printed as Go prints them."""
from __future__ import annotations

import pytest

from cfs_build.mcpserver.v5args import check, go_float, go_quote, go_value

ROOT = 'validating "arguments": validating root: '


@pytest.mark.parametrize("number, printed", [
    (0, "0"), (5, "5"), (-5, "-5"), (2.5, "2.5"), (100000, "100000"), (999999, "999999"),
    (1e6, "1e+06"), (1234567, "1.234567e+06"), (12345678.5, "1.23456785e+07"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (1.5e-7, "1.5e-07"), (1e21, "1e+21"),
    (1e100, "1e+100"), (0.1, "0.1"), (123.456, "123.456"), (-0.5, "-0.5")])
def test_numbers_print_as_gos_v_of_a_float64(number, printed):
    assert go_float(number) == printed


def test_values_print_as_gos_v_of_decoded_json():
    assert go_value([1, "a b", None, True, [2.5]]) == "[1 a b <nil> true [2.5]]"
    assert go_value({"z": {}, "a": []}) == "map[a:[] z:map[]]"


def test_strings_quote_as_gos_q():
    assert go_quote('a"b\\c') == r'"a\"b\\c"'
    assert go_quote("tab\there\n") == r'"tab\there\n"'
    assert go_quote("\x01\x7f") == r'"\x01\x7f"'
    assert go_quote("\u0085é") == '"\\u0085é"'


def test_check_follows_the_validators_order():
    properties = ("logical_name", "content")
    assert check(properties, {"logical_name": "SPEC/x", "content": ""}) is None
    assert check(properties, {"content": 1, "extra": 1}) == (
        ROOT + 'validating /properties/content: type: 1 has type "integer", want "string"')
    assert check(properties, {"b": 1, "a": 2}) == \
        ROOT + 'unexpected additional properties ["b" "a"]'
    assert check((), {}) is None
    assert check((), {"x": None}) == ROOT + 'unexpected additional properties ["x"]'
