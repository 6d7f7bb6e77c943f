"""Helpers for the contract tests: load ``openapi.yaml``, resolve ``$ref``s, flatten body schemas, and turn
OpenAPI schemas into JSON Schema validators (3.0 and 3.1 each handled by its own rules)."""

from __future__ import annotations

import base64
import binascii
import copy
import uuid
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "openapi.yaml"

Json = Any


@lru_cache(maxsize=1)
def _load() -> dict[str, Json]:
    with SPEC_PATH.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict)
    return data


def load_spec() -> dict[str, Json]:
    """A fresh deep copy of the parsed spec (tests may not mutate the cached one)."""
    return copy.deepcopy(_load())


def is_31(spec: dict[str, Json]) -> bool:
    return str(spec["openapi"]).startswith("3.1")


def pointer(spec: dict[str, Json], ref: str) -> Json:
    """Resolve a local ``#/a/b`` reference."""
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Json = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def resolve(spec: dict[str, Json], node: Json) -> Json:
    """Follow ``$ref`` chains at the top of ``node``."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref not in seen, f"circular $ref {ref}"
        seen.add(ref)
        node = pointer(spec, ref)
    return node


def deref(spec: dict[str, Json], node: Json, _stack: tuple[str, ...] = ()) -> Json:
    """``node`` with every ``$ref`` inlined (the spec has no recursive schemas)."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref not in _stack, f"recursive $ref {ref}"
            return deref(spec, pointer(spec, ref), _stack + (ref,))
        return {k: deref(spec, v, _stack) for k, v in node.items()}
    if isinstance(node, list):
        return [deref(spec, v, _stack) for v in node]
    return node


def object_properties(spec: dict[str, Json], schema: Json) -> dict[str, Json]:
    """All properties of an object schema, merging ``allOf`` parts (dereferenced)."""
    schema = deref(spec, schema)
    props: dict[str, Json] = {}
    for part in schema.get("allOf", []):
        for name, value in object_properties(spec, part).items():
            assert name not in props, f"property {name} defined twice in allOf"
            props[name] = value
    props.update(schema.get("properties", {}))
    return props


def enum_values(schema: Json) -> list[Json]:
    """The enum of a (dereferenced) schema, or the union of its ``oneOf``/``anyOf`` branches' enums."""
    if "enum" in schema:
        return list(schema["enum"])
    values: list[Json] = []
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            values.extend(enum_values(branch))
    return values


def operations(spec: dict[str, Json]) -> Iterator[tuple[str, str, dict[str, Json]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options", "trace"}:
                yield path, method, op


# ----------------------------------------------------------------------------------------------------------
# OpenAPI schema -> JSON Schema
# ----------------------------------------------------------------------------------------------------------

_OAS30_ONLY = {
    "nullable",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "discriminator",
    "xml",
    "externalDocs",
}


def oas30_to_jsonschema(node: Json) -> Json:
    """Convert a dereferenced OpenAPI 3.0 Schema Object to draft-4 JSON Schema.

    * ``nullable: true`` becomes ``null`` added to ``type`` (and to ``enum`` when there is one), which is
      what 3.0 means by it; 3.1 writes ``type: [..., "null"]`` directly and needs no conversion.
    * OpenAPI-only keywords (``example``, ``deprecated``, ``x-*``, ...) are dropped.
    * ``format: binary`` / ``byte`` stay (draft-4 validators ignore unknown formats unless asked).
    """
    if isinstance(node, list):
        return [oas30_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Json] = {}
    for key, value in node.items():
        if key in _OAS30_ONLY or key.startswith("x-"):
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: oas30_to_jsonschema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "oneOf", "anyOf"):
            out[key] = oas30_to_jsonschema(value)
        else:
            out[key] = value
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        for key in ("oneOf", "anyOf"):
            if key in out:
                out[key] = [*out[key], {"type": "null"}]
    return out


def _format_checker(base: jsonschema.FormatChecker) -> jsonschema.FormatChecker:
    """The validator's own format checks plus OpenAPI's ``uuid``, ``byte`` and a plain ``uri`` check (the
    optional packages jsonschema would use for ``uri`` are not installed)."""
    checker = jsonschema.FormatChecker(formats=())
    checker.checkers = dict(base.checkers)

    @checker.checks("uuid", raises=ValueError)
    def _uuid(value: object) -> bool:
        return not isinstance(value, str) or str(uuid.UUID(value)) == value.lower()

    @checker.checks("byte", raises=(binascii.Error, ValueError))
    def _byte(value: object) -> bool:
        return not isinstance(value, str) or bool(base64.b64decode(value, validate=True)) or value == ""

    @checker.checks("uri", raises=ValueError)
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and (bool(parts.netloc) or bool(parts.path)) and " " not in value

    return checker


def validator_for(spec: dict[str, Json], schema: Json) -> jsonschema.protocols.Validator:
    """A JSON Schema validator for an OpenAPI schema of this spec's version (with format checks)."""
    schema = deref(spec, schema)
    if is_31(spec):
        cls: Any = jsonschema.Draft202012Validator
        converted = schema
    else:
        cls = jsonschema.Draft4Validator
        converted = oas30_to_jsonschema(schema)
    cls.check_schema(converted)
    return cls(converted, format_checker=_format_checker(cls.FORMAT_CHECKER))
