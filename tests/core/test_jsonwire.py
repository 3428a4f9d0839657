"""The turn's JSON is orjson's, yet accepts and refuses what the standard module did."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from persona import jsonwire


def standard(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("value", [
    {"s": "welcomed", "t": {"source": "门店"}, "a": {"tz": "Asia/Shanghai", "n": [1, 2.5, None, True]}},
    {"counts": {1: "one", 2.5: "x"}},  # non-string keys become strings, as json makes them
    {"huge": 2**70},  # beyond 64 bits: orjson declines, json writes it
    ["😀", "\u2028"],
])
def test_writes_what_the_standard_module_writes(value):
    assert jsonwire.dump(value) == standard(value)
    assert jsonwire.dump_bytes(value) == standard(value).encode()
    assert jsonwire.load(jsonwire.dump(value)) == json.loads(standard(value))


@pytest.mark.parametrize("value", [datetime(2026, 11, 30), {1, 2}, object()])
def test_refuses_what_the_standard_module_refuses(value):
    with pytest.raises(TypeError):
        jsonwire.dump({"x": value})


def test_reads_documents_the_standard_module_wrote_with_nan():
    assert jsonwire.load(b'{"x":NaN,"y":1}')["y"] == 1
