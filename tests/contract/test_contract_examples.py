"""Every example in openapi.yaml validates against its own schema, and so does every default; the patterns
accept and reject what their descriptions say."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.spec_tools import deref, load_spec, oas30_to_jsonschema, resolve, validator_for

SPEC = load_spec()


def _schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Schema Object inside ``node`` (itself a schema), with its location; ``$ref``s are not followed."""
    if not isinstance(node, dict) or "$ref" in node:
        return
    yield where, node
    for key in ("properties", "patternProperties"):
        for name, sub in node.get(key, {}).items():
            yield from _schemas(sub, f"{where}/{key}/{name}")
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(node.get(key, [])):
            yield from _schemas(sub, f"{where}/{key}/{i}")
    for key in ("items", "not", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _schemas(node[key], f"{where}/{key}")


def _with_schema(holder: dict[str, Any], where: str) -> Iterator[tuple[str, Any, Any]]:
    """A media type, parameter or header: its own examples, then its schema's."""
    holder = resolve(SPEC, holder)
    schema = holder.get("schema")
    if schema is None:
        return
    if "example" in holder:
        yield f"{where}/example", schema, holder["example"]
    for name, ex in holder.get("examples", {}).items():
        yield f"{where}/examples/{name}", schema, resolve(SPEC, ex)["value"]


def _cases() -> Iterator[tuple[str, Any, Any]]:
    """(where, schema, value) for every example and default of the spec."""
    comps = SPEC["components"]
    roots = [(f"#/components/schemas/{n}", s) for n, s in comps["schemas"].items()]
    holders: list[tuple[str, Any]] = []
    holders += [(f"#/components/parameters/{n}", p) for n, p in comps.get("parameters", {}).items()]
    holders += [(f"#/components/headers/{n}", h) for n, h in comps.get("headers", {}).items()]
    bodies = [(f"#/components/requestBodies/{n}", b) for n, b in comps.get("requestBodies", {}).items()]
    responses = [(f"#/components/responses/{n}", r) for n, r in comps.get("responses", {}).items()]
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            base = f"#/paths/{path}/{method}"
            holders += [(f"{base}/parameters/{i}", p) for i, p in enumerate(op.get("parameters", []))]
            if "requestBody" in op:
                bodies.append((f"{base}/requestBody", op["requestBody"]))
            responses += [(f"{base}/responses/{st}", r) for st, r in op["responses"].items()]
    for where, body in bodies:
        if "$ref" not in body:
            holders += [(f"{where}/content/{ct}", m) for ct, m in body["content"].items()]
    for where, resp in responses:
        if "$ref" not in resp:
            holders += [(f"{where}/content/{ct}", m) for ct, m in resp.get("content", {}).items()]
            holders += [(f"{where}/headers/{n}", h) for n, h in resp.get("headers", {}).items()]
    for where, holder in holders:
        yield from _with_schema(holder, where)
        if "$ref" not in holder and isinstance(holder.get("schema"), dict):
            roots.append((f"{where}/schema", holder["schema"]))
    for root_where, root in roots:
        for where, schema in _schemas(root, root_where):
            for key in ("example", "default"):
                if key in schema:
                    yield f"{where}/{key}", schema, schema[key]


CASES = list(_cases())


def test_there_are_examples() -> None:
    wheres = [w for w, _, _ in CASES]
    assert len(CASES) > 100
    assert any("/responses/BadRequest/content/application/json/examples/invalid_size" in w for w in wheres)
    assert any("/schemas/Roi/example" in w for w in wheres)
    assert any(w.endswith("/default") for w in wheres)


@pytest.mark.parametrize("where,schema,value", CASES, ids=[c[0] for c in CASES])
def test_example_validates(where: str, schema: Any, value: Any) -> None:
    validator = validator_for(SPEC, schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    assert not errors, f"{where}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_nullable_is_converted_for_30() -> None:
    schema = {"type": "string", "nullable": True, "enum": ["a"], "example": "a", "x-foo": 1}
    assert oas30_to_jsonschema(schema) == {"type": ["string", "null"], "enum": ["a", None]}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(deref(SPEC, SPEC["components"]["schemas"][name])["pattern"])


PATTERN_CASES: dict[str, tuple[list[str], list[str]]] = {
    "Roi": (
        ["0% 0% 100% 100%", "10px 20px 300px 400px", "0 0 10 10", "1.5% .5% 99.% 100px"],
        ["", "0 0 10", "0 0 10 10 10", "10pt 0 1 1", "-1 0 1 1", "a b c d"],
    ),
    "CropMargin": (
        ["0", "10px", "10%", "30px 10%", "1 2 3 4", "500px", "50%", "500.0", "49.9%", ".5%"],
        ["", "501px", "50.5%", "51%", "1 2 3", "1 2 3 4 5", "10pt", "-1"],
    ),
    "Scale": (["original", "10%", "55.5%", "100%", "100.0%"], ["", "9%", "100.1%", "101%", "50", "auto"]),
    "Position": (
        ["original", "center", "0%", "50% 100%", "100% 0%", "33.3% .5%"],
        ["", "101%", "50", "50% 50% 50%", "left", "-1%"],
    ),
    "ImageUrl": (
        ["", " ", "https://www.remove.bg/a.jpg", "http://127.0.0.1:5000/x?y=1#z", "http://host"],
        ["ftp://x/a.jpg", "www.remove.bg/a.jpg", "https://", "https://a b", "file:///etc/passwd", "abc"],
    ),
    "BgImageUrl": (["", "https://example.com/bg.png"], ["mailto:a@b.c", "//example.com/bg.png"]),
    "BgColor": (
        ["fff", "#fff", "ffff", "81d4fa", "81d4fa77", "#81D4FA77", "green", "rebeccapurple"],
        ["", "#", "ff", "fffff", "fffffff", "fffffffff", "ggg", "notacolour", "Green "],
    ),
}


@pytest.mark.parametrize("name", sorted(PATTERN_CASES))
def test_patterns(name: str) -> None:
    pattern = _pattern(name)
    good, bad = PATTERN_CASES[name]
    for value in good:
        assert pattern.search(value), f"{name} should accept {value!r}"
    for value in bad:
        assert not pattern.search(value), f"{name} should reject {value!r}"
