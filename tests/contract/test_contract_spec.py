"""openapi.yaml: valid, and complete — every operation, field, enum value, header and error code that the
issues name is present, so that nothing silently falls out in a later edit."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from openbg_emulator.errors import CATALOGUE

from tests.contract.spec_tools import (
    SPEC_PATH,
    deref,
    enum_values,
    load_spec,
    object_properties,
    operations,
    resolve,
)

SPEC = load_spec()
REMOVEBG_OPS = [("/removebg", "post"), ("/removebg.json", "post")]
BODY_TYPES = ["multipart/form-data", "application/x-www-form-urlencoded", "application/json"]

# spec §5 (+ the openbg extension): field -> enum values (None: not an enum)
REMOVEBG_FIELDS: dict[str, list[object] | None] = {
    "image_file_b64": None,
    "image_url": None,
    "size": ["preview", "small", "regular", "medium", "hd", "full", "4k", "50MP", "auto"],
    "type": ["auto", "person", "product", "car", "animal", "graphic", "transportation"],
    "type_level": ["none", "1", "2", "latest"],
    "format": ["auto", "png", "jpg", "zip", "webp"],
    "roi": None,
    "crop": None,
    "crop_margin": None,
    "scale": None,
    "position": None,
    "channels": ["rgba", "alpha"],
    "add_shadow": None,
    "shadow_type": ["car", "3D", "drop", "none", "auto"],
    "shadow_opacity": ["auto"],
    "semitransparency": None,
    "bg_color": None,
    "bg_image_url": None,
    "quality": ["fast", "balanced", "best"],
}
FILE_FIELDS = ["image_file", "bg_image_file"]
SHADOW_MAP_KEYS = ["car", "product", "person", "animal", "transportation", "graphic", "other"]
PATTERN_FIELDS = ["roi", "crop_margin", "scale", "position", "bg_color", "image_url", "bg_image_url"]
RESULT_HEADERS = {
    "X-Type": "string",
    "X-Width": "integer",
    "X-Height": "integer",
    "X-Credits-Charged": "number",
    "X-Foreground-Top": "integer",
    "X-Foreground-Left": "integer",
    "X-Foreground-Width": "integer",
    "X-Foreground-Height": "integer",
    "X-Max-Width": "integer",
    "X-Max-Height": "integer",
    "X-RateLimit-Limit": "integer",
    "X-RateLimit-Remaining": "integer",
    "X-RateLimit-Reset": "integer",
}
X_TYPES = [
    "person",
    "product",
    "animal",
    "car",
    "car_interior",
    "car_part",
    "transportation",
    "graphics",
    "other",
]
TEST_HEADERS = [
    "X-Openbg-Force-Status",
    "X-Openbg-Retry-After",
    "X-Openbg-Latency-Ms",
    "X-Openbg-Force-Empty-Balance",
    "X-Openbg-Fail-Times",
    "X-Openbg-Client-Token",
]
# Catalogue codes that no documented operation answers (routing errors outside the described paths).
UNDOCUMENTED_CODES = {"not_found", "method_not_allowed"}
IMPROVE_ONLY_CODES = {"invalid_image_filename", "invalid_tag", "improve_limit_reached"}


def op(path: str, method: str) -> dict:
    return SPEC["paths"][path][method]


def body_schema(path: str, method: str, content_type: str) -> dict:
    body = resolve(SPEC, op(path, method)["requestBody"])
    return body["content"][content_type]["schema"]


def response(path: str, method: str, status: str) -> dict:
    return deref(SPEC, op(path, method)["responses"][status])


def example_codes(resp: dict) -> set[str]:
    codes = set()
    for media in resp.get("content", {}).values():
        for example in media.get("examples", {}).values():
            for item in example["value"]["errors"]:
                codes.add(item["code"])
    return codes


def test_validates_with_openapi_spec_validator() -> None:
    spec_dict, base_uri = read_from_filename(str(SPEC_PATH))
    validate(spec_dict, base_uri=base_uri)


def test_version_server_and_security() -> None:
    assert SPEC["openapi"] == "3.0.3"
    assert [s["url"] for s in SPEC["servers"]] == ["https://api.remove.bg/v1.0"]
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["ApiKeyAuth"] == {
        **schemes["ApiKeyAuth"],
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert schemes["BearerAuth"]["type"] == "http" and schemes["BearerAuth"]["scheme"] == "bearer"
    assert "OAuth 2.0" in schemes["BearerAuth"]["description"]
    assert SPEC["security"] == [{"ApiKeyAuth": []}, {"BearerAuth": []}]


def test_operations() -> None:
    found = {(path, method): o["operationId"] for path, method, o in operations(SPEC)}
    assert found == {
        ("/removebg", "post"): "removeBackground",
        ("/removebg.json", "post"): "removeBackgroundJson",
        ("/account", "get"): "getAccount",
        ("/improve", "post"): "submitImprovement",
    }
    assert "/healthz" not in SPEC["paths"] and "/readyz" not in SPEC["paths"]


@pytest.mark.parametrize("path,method", REMOVEBG_OPS)
@pytest.mark.parametrize("content_type", BODY_TYPES)
def test_removebg_fields(path: str, method: str, content_type: str) -> None:
    props = object_properties(SPEC, body_schema(path, method, content_type))
    for name, values in REMOVEBG_FIELDS.items():
        assert name in props, f"{content_type}: {name} missing"
        if values is not None:
            assert set(values) <= set(enum_values(props[name])), f"{content_type}: {name} enum"
    for name in FILE_FIELDS:
        if content_type == "multipart/form-data":
            assert props[name]["type"] == "string" and props[name]["format"] == "binary"
        else:
            assert name not in props, f"{name} can only travel as multipart"
    for name in PATTERN_FIELDS:
        assert props[name]["type"] == "string" and props[name]["pattern"].startswith("^")
    for name in ("crop", "add_shadow", "semitransparency"):
        assert props[name]["type"] == "boolean"
    assert props["add_shadow"]["deprecated"] is True
    assert props["quality"]["x-openbg-extension"] is True
    # defaults that are safe to send explicitly
    assert props["size"]["default"] == "preview"
    assert props["type"]["default"] == "auto"
    assert props["type_level"]["default"] == "1"
    assert props["format"]["default"] == "auto"
    assert props["channels"]["default"] == "rgba"
    assert props["crop"]["default"] is False
    assert props["semitransparency"]["default"] is True
    assert props["roi"]["default"] == "0% 0% 100% 100%"
    assert props["crop_margin"]["default"] == "0"
    # position's default depends on scale, and add_shadow is deprecated: no `default` (the generated client
    # would otherwise always send them)
    assert "default" not in props["position"] and "default" not in props["add_shadow"]
    # shadow_opacity: 0..100 or auto
    ints = [b for b in props["shadow_opacity"].get("oneOf", []) if b.get("type") == "integer"]
    if content_type == "application/json":
        ints = [
            b
            for branch in props["shadow_opacity"]["oneOf"]
            for b in branch.get("oneOf", [])
            if b.get("type") == "integer"
        ]
    assert ints and ints[0]["minimum"] == 0 and ints[0]["maximum"] == 100


@pytest.mark.parametrize("content_type", BODY_TYPES)
def test_per_type_shadow_forms(content_type: str) -> None:
    props = object_properties(SPEC, body_schema("/removebg", "post", content_type))
    if content_type == "application/json":
        # JSON: shadow_type / shadow_opacity are a single value or an object keyed by type
        for name in ("shadow_type", "shadow_opacity"):
            maps = [b for b in props[name]["oneOf"] if b.get("type") == "object"]
            assert len(maps) == 1
            assert sorted(maps[0]["properties"]) == sorted(SHADOW_MAP_KEYS)
            assert maps[0]["additionalProperties"] is False
        assert set(enum_values(props["shadow_type"]["oneOf"][1]["properties"]["car"])) >= {
            "car",
            "3D",
            "drop",
        }
    else:
        # forms: fields literally named shadow_type[<type>] / shadow_opacity[<type>]
        for key in SHADOW_MAP_KEYS:
            assert set(enum_values(props[f"shadow_type[{key}]"])) == {"car", "3D", "drop", "none", "auto"}
            assert "auto" in enum_values(props[f"shadow_opacity[{key}]"])


@pytest.mark.parametrize("content_type", BODY_TYPES)
def test_improve_fields(content_type: str) -> None:
    props = object_properties(SPEC, body_schema("/improve", "post", content_type))
    assert {"image_file_b64", "image_url", "image_filename", "tag"} <= set(props)
    assert ("image_file" in props) == (content_type == "multipart/form-data")
    ok = response("/improve", "post", "200")["content"]["application/json"]["schema"]
    assert ok["required"] == ["id"] and ok["properties"]["id"]["format"] == "uuid"


def test_account_schema() -> None:
    schema = response("/account", "get", "200")["content"]["application/json"]["schema"]
    attrs = schema["properties"]["data"]["properties"]["attributes"]
    credits = attrs["properties"]["credits"]
    assert sorted(credits["required"]) == ["enterprise", "payg", "subscription", "total"]
    for name in credits["required"]:
        assert credits["properties"][name] == {
            **credits["properties"][name],
            "type": "number",
            "format": "float",
        }
    api = attrs["properties"]["api"]
    assert sorted(api["required"]) == ["free_calls", "sizes"]
    assert api["properties"]["free_calls"]["type"] == "integer"
    assert api["properties"]["sizes"]["enum"] == ["all"] and api["properties"]["sizes"]["deprecated"] is True


@pytest.mark.parametrize("path,method", REMOVEBG_OPS)
def test_removebg_success_response(path: str, method: str) -> None:
    ok = response(path, method, "200")
    expected = ["image/png", "image/jpeg", "image/webp", "application/zip", "application/json"]
    if path == "/removebg.json":
        expected = ["application/json"]
    assert list(ok["content"]) == expected
    for media in expected[:-1]:
        assert ok["content"][media]["schema"] == {
            **ok["content"][media]["schema"],
            "type": "string",
            "format": "binary",
        }
    data = ok["content"]["application/json"]["schema"]["properties"]["data"]
    assert set(data["required"]) == {
        "result_b64",
        "foreground_top",
        "foreground_left",
        "foreground_width",
        "foreground_height",
    }
    for name, type_ in RESULT_HEADERS.items():
        assert ok["headers"][name]["schema"]["type"] == type_, name
    assert ok["headers"]["X-Type"]["schema"]["enum"] == X_TYPES
    assert "required" not in ok["headers"]["X-Type"]  # absent with type_level=none


def test_every_operation_has_test_headers_and_error_statuses() -> None:
    for path, method, o in operations(SPEC):
        names = [resolve(SPEC, p)["name"] for p in o.get("parameters", [])]
        # the removal operations also take the Idempotency-Key header (an openbg extension, every server)
        extra = ["Idempotency-Key"] if (path, method) in REMOVEBG_OPS else []
        assert names == TEST_HEADERS + extra, path
        for p in o["parameters"]:
            p = resolve(SPEC, p)
            if p["name"] == "Idempotency-Key":
                assert p["in"] == "header" and p["required"] is False and p["x-openbg-extension"] is True
                continue
            assert p["in"] == "header" and p["required"] is False and p["x-openbg-extension"] is True
            assert "Emulator only" in p["description"] and "--test-controls" in p["description"]
        assert {"400", "403", "429", "500", "503"} <= set(o["responses"]), path
        for status in ("429", "503"):
            headers = response(path, method, status)["headers"]
            assert headers["Retry-After"]["required"] is True
            assert headers["Retry-After"]["schema"]["type"] == "integer"
        for status, resp in o["responses"].items():
            if not status.startswith("2"):
                schema = deref(SPEC, resp)["content"]["application/json"]["schema"]
                assert schema["required"] == ["errors"]
                assert set(schema["properties"]["errors"]["items"]["properties"]) == {
                    "title",
                    "code",
                    "detail",
                }
    force = resolve(SPEC, SPEC["components"]["parameters"]["OpenbgForceStatus"])
    assert set(deref(SPEC, force["schema"])["enum"]) == {429, 500, 503}


def test_rate_limit_headers_on_429() -> None:
    for path, method, _ in operations(SPEC):
        headers = response(path, method, "429")["headers"]
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers)


@pytest.mark.parametrize("path,method", [*REMOVEBG_OPS, ("/improve", "post")])
def test_post_statuses(path: str, method: str) -> None:
    assert {"200", "400", "403", "413", "415", "429", "500", "503"} <= set(op(path, method)["responses"])
    if path != "/improve":
        assert "402" in op(path, method)["responses"]


def test_an_example_for_every_error_code() -> None:
    """Every code of the emulator's catalogue (spec §7.1 and §13) is an example of the response that carries
    it, on every operation that can answer it."""
    by_status: dict[str, set[str]] = {}
    for code, (status, _title, _detail) in CATALOGUE.items():
        if code not in UNDOCUMENTED_CODES:
            by_status.setdefault(str(status), set()).add(code)
    for path, method in REMOVEBG_OPS:
        for status, codes in by_status.items():
            expected = codes - IMPROVE_ONLY_CODES
            missing = expected - example_codes(response(path, method, status))
            assert not missing, f"{path} {status}: no example for {sorted(missing)}"
    improve_400 = example_codes(response("/improve", "post", "400"))
    assert (
        IMPROVE_ONLY_CODES
        | {
            "missing_source",
            "multiple_sources",
            "file_too_large",
            "invalid_file_type",
            "invalid_image_url",
            "failed_image_download",
            "resolution_too_high",
        }
        <= improve_400
    )
    assert example_codes(response("/removebg", "post", "402")) == {"insufficient_credits"}
    assert example_codes(response("/account", "get", "403")) == {"auth_failed"}
    titles = {
        item["title"]
        for media in response("/account", "get", "403")["content"].values()
        for ex in media["examples"].values()
        for item in ex["value"]["errors"]
    }
    assert titles == {"Missing API Key", "API Key invalid"}


def test_example_titles_follow_the_catalogue() -> None:
    """Error examples use the titles the emulator sends (the documented remove.bg wording)."""
    for name, example in SPEC["components"]["examples"].items():
        value = example["value"]
        if "errors" not in value:
            continue
        for item in value["errors"]:
            _status, title, _ = CATALOGUE[item["code"]]
            if item["code"] != "auth_failed":  # two titles: missing vs wrong key
                assert item["title"] == title, name


def test_limits_are_described() -> None:
    text = SPEC["info"]["description"] + deref(SPEC, SPEC["components"]["schemas"]["Size"])["description"]
    for needle in (
        "22 MB",
        "50 megapixels",
        "0.25 MP",
        "1.5 MP",
        "4 MP",
        "25 MP",
        "50 MP",
        "10 MP",
        "500 megapixel-images per minute",
    ):
        assert needle in text, needle


def test_spec_notes_pointers_resolve() -> None:
    """Every JSON pointer in the table of docs/engineering/spec-notes.md points at something in openapi.yaml."""
    import re

    from tests.contract.spec_tools import REPO

    text = (REPO / "docs" / "engineering" / "spec-notes.md").read_text(encoding="utf-8")
    table = text.split("## Spec item → where in openapi.yaml", 1)[1].split("\n## ", 1)[0]
    where = [line.split("|")[2] for line in table.splitlines() if line.startswith("| ")]
    pointers = [p for cell in where for p in re.findall(r"`(/[^`]+)`", cell)]
    assert len(pointers) > 40
    for ptr in pointers:
        node = SPEC
        for part in ptr.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict | list), ptr
            node = node[int(part)] if isinstance(node, list) else node.get(part, KeyError)
            assert node is not KeyError, f"{ptr}: no {part!r}"
