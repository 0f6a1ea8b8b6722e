import json

import pytest

from campus.payloads import JsonTooDeep, json_depth_exceeds, json_loads_bounded


def test_json_nested_past_the_limit_is_refused_before_parsing() -> None:
    attack = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(attack)
    with pytest.raises(JsonTooDeep) as error:
        json_loads_bounded(attack)
    assert isinstance(error.value, ValueError) and "nested more than 64" in str(error.value)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"source": "[" * 500 + '\\"{' * 200, "cells": [[[{"a": [1]}]]]})
    assert not json_depth_exceeds(text)
    assert json_loads_bounded(text)["cells"] == [[[{"a": [1]}]]]


def test_an_unterminated_string_is_neither_slow_nor_a_bypass() -> None:
    assert json_depth_exceeds(b'"' + b"\\" * 10_001 + b"[" * 70)
    assert json_depth_exceeds(b"[" * 65 + b'"abc')
    assert not json_depth_exceeds(b"[" * 64 + b"]" * 64)
