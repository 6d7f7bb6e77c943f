"""Offline unit tests: error mapping, result metadata, ZIP composition, retry policy.

Behaviour over HTTP is tested against the live emulator in the other files.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openbg import (
    Account,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    RateLimitError,
    RemoveBgConnectionError,
    RemoveBgError,
    RequestTimeoutError,
    Result,
    RetryPolicy,
    ServerError,
    ZipCompositionError,
    zip2png,
)
from openbg.errors import error_from_response, parse_retry_after
from PIL import Image


def _err(status: int, body: bytes, **headers: str) -> RemoveBgError:
    return error_from_response(status, body, headers)


def test_error_mapping_by_status() -> None:
    body = json.dumps({"errors": [{"title": "T", "code": "c", "detail": "D"}]}).encode()
    assert type(_err(400, body)) is BadRequestError
    e402 = _err(402, json.dumps({"errors": [{"title": "Insufficient credits", "code": "insufficient_credits"}]}).encode())
    assert isinstance(e402, InsufficientCreditsError)
    assert type(_err(403, body)) is AuthenticationError
    assert type(_err(503, body)) is ServerError
    e408 = _err(408, json.dumps({"errors": [{"title": "Request timeout", "code": "request_timeout"}]}).encode())
    assert type(e408) is RequestTimeoutError and e408.code == "request_timeout"
    e = _err(400, body)
    assert (e.status, e.code, e.title, e.detail) == (400, "c", "T", "D")
    assert "400: T [c] (D)" == str(e)


def test_rate_limit_error_retry_after() -> None:
    e = _err(429, b'{"errors":[{"title":"Rate limit exceeded","code":"rate_limit_exceeded"}]}', **{"Retry-After": "7"})
    assert isinstance(e, RateLimitError)
    assert e.retry_after == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("nonsense") is None


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b"\xff\xfe\x00", b'{"errors": []}', b"[1]"])
def test_non_json_error_bodies(body: bytes) -> None:
    e = _err(502, body)
    assert isinstance(e, ServerError)
    assert e.title == "Unable to parse response"
    assert e.code is None


def test_connection_error_is_remove_bg_error() -> None:
    e = RemoveBgConnectionError("Connection failed", "reset")
    assert isinstance(e, RemoveBgError) and e.status == 0


def _zip(color: Image.Image | None, alpha: Image.Image | None, alpha_name: str = "alpha.png") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if color is not None:
            b = io.BytesIO()
            color.save(b, format="JPEG", quality=95)
            zf.writestr("color.jpg", b.getvalue())
        if alpha is not None:
            b = io.BytesIO()
            alpha.save(b, format="PNG")
            zf.writestr(alpha_name, b.getvalue())
    return buf.getvalue()


def test_zip2png_composes_rgba() -> None:
    color = Image.new("RGB", (40, 30), (200, 10, 10))
    alpha = Image.linear_gradient("L").resize((40, 30))
    png = zip2png(_zip(color, alpha))
    out = Image.open(io.BytesIO(png))
    assert out.format == "PNG" and out.mode == "RGBA" and out.size == (40, 30)
    assert out.getchannel("A").tobytes() == alpha.tobytes()  # alpha is lossless
    r, g, b, _ = out.getpixel((5, 5))  # type: ignore[misc]
    assert abs(r - 200) <= 3 and g <= 13 and b <= 13


def test_zip2png_errors() -> None:
    color = Image.new("RGB", (4, 3))
    with pytest.raises(ZipCompositionError, match="alpha.png"):
        zip2png(_zip(color, None))
    with pytest.raises(ZipCompositionError, match="alpha.png"):
        zip2png(_zip(color, Image.new("L", (4, 3)), alpha_name="Alpha.PNG"))  # names are exact
    with pytest.raises(ZipCompositionError, match="color.jpg"):
        zip2png(_zip(None, Image.new("L", (4, 3))))
    with pytest.raises(ZipCompositionError, match="differ in size"):
        zip2png(_zip(color, Image.new("L", (5, 3))))
    with pytest.raises(ZipCompositionError, match="not a valid ZIP"):
        zip2png(b"not a zip")


def test_result_metadata_from_headers(tmp_path: object) -> None:
    png = io.BytesIO()
    Image.new("RGBA", (3, 2)).save(png, format="PNG")
    headers = {
        "Content-Type": "image/png", "X-Type": "person", "X-Width": "3", "X-Height": "2",
        "X-Credits-Charged": "0.25", "X-Foreground-Top": "1", "X-Foreground-Left": "0",
        "X-Foreground-Width": "3", "X-Foreground-Height": "1", "X-Max-Width": "30", "X-Max-Height": "20",
        "X-Ratelimit-Limit": "500", "X-Ratelimit-Remaining": "494", "X-Ratelimit-Reset": "1591026567",
    }
    r = Result.from_response(png.getvalue(), headers)
    assert r.type == "person" and (r.width, r.height) == (3, 2) and r.credits_charged == 0.25
    assert r.foreground is not None and (r.foreground.top, r.foreground.width) == (1, 3)
    assert (r.max_width, r.max_height) == (30, 20)
    assert r.rate_limit is not None and r.rate_limit.remaining == 494
    assert r.rate_limit.reset == datetime(2020, 6, 1, 15, 49, 27, tzinfo=UTC)
    assert r.to_pil().size == (3, 2) and r.extension == "png"


def test_result_json_mode() -> None:
    import base64

    color = Image.new("RGB", (4, 3), (0, 0, 255))
    z = _zip(color, Image.new("L", (4, 3), 255))
    body = json.dumps({"data": {"result_b64": base64.b64encode(z).decode(), "foreground_top": 0,
                                "foreground_left": 0, "foreground_width": 4, "foreground_height": 3}}).encode()
    r = Result.from_response(body, {"content-type": "application/json; charset=utf-8"})
    assert r.is_zip and r.content == z and r.foreground is not None and r.foreground.width == 4
    assert r.to_pil().mode == "RGBA"


def test_result_save_composes_zip_for_png(tmp_path: object) -> None:
    from pathlib import Path

    z = _zip(Image.new("RGB", (4, 3)), Image.new("L", (4, 3), 128))
    r = Result.from_response(z, {"Content-Type": "application/zip"})
    p = r.save(Path(str(tmp_path)) / "x.png")
    assert Image.open(p).mode == "RGBA"
    q = r.save(Path(str(tmp_path)) / "x.zip")
    assert q.read_bytes() == z


def test_account_from_json() -> None:
    a = Account.from_json({"data": {"attributes": {"credits": {"total": 200, "subscription": 150, "payg": 50,
                                                               "enterprise": 0}, "api": {"free_calls": 50, "sizes": "all"}}}})
    assert a.credits.total == 200.0 and a.free_calls == 50 and a.sizes == "all"
    with pytest.raises(RemoveBgError):
        Account.from_json({"data": {}})


def test_retry_policy_decisions() -> None:
    p = RetryPolicy(retries=3, backoff_base=1.0, jitter=0.0, max_retry_after=10, total_timeout=100)
    e429 = RateLimitError(429, None, "x", retry_after=2)
    assert p.delay_for(e429, 0, 0.0) == 2
    assert p.delay_for(RateLimitError(429, None, "x", retry_after=11), 0, 0.0) is None  # beyond the cap
    e503 = ServerError(503, None, "x")
    assert [p.delay_for(e503, i, 0.0) for i in range(4)] == [1.0, 2.0, 4.0, None]  # retries cap
    assert p.delay_for(RemoveBgConnectionError("x"), 0, 0.0) == 1.0
    assert [p.delay_for(RequestTimeoutError(408, "request_timeout", "x"), i, 0.0) for i in range(4)] == [1.0, 2.0, 4.0, None]
    for status, cls in ((400, BadRequestError), (402, InsufficientCreditsError), (403, AuthenticationError)):
        assert p.delay_for(cls(status, None, "x"), 0, 0.0) is None
    assert p.delay_for(e503, 0, 99.5) is None  # the time budget
    jittered = RetryPolicy(backoff_base=1.0, jitter=0.5)
    assert all(1.0 <= jittered.delay_for(e503, 0, 0.0) <= 1.5 for _ in range(50))  # type: ignore[operator]
    with pytest.raises(ValueError):
        RetryPolicy(retries=-1)


def test_cli_plans_outputs(tmp_path: Path) -> None:
    import click
    from openbg.cli import expand_inputs, plan_jobs

    (tmp_path / "a").mkdir()
    for name in ("a/x.jpg", "a/y.PNG", "a/notes.txt", "b.webp"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.jpg").write_bytes(b"x")
    files = expand_inputs([str(tmp_path / "a"), str(tmp_path / "*.webp"), str(tmp_path / "c" / "x.jpg"),
                           str(tmp_path / "a" / "x.jpg")])
    assert [p.name for p in files] == ["x.jpg", "y.PNG", "b.webp", "x.jpg"]  # folders, globs, de-duplicated
    jobs = plan_jobs(files, tmp_path / "out", "auto")
    assert [j.target.name for j in jobs] == ["x.png", "y.png", "b.png", "x-1.png"] and {j.format for j in jobs} == {"png"}
    single = plan_jobs(files[:1], tmp_path / "cut.jpg", "auto")
    assert single[0].target == tmp_path / "cut.jpg" and single[0].format == "jpg"
    assert plan_jobs(files[:1], tmp_path / "o", "webp")[0].target == tmp_path / "o" / "x.webp"
    with pytest.raises(click.UsageError):
        plan_jobs(files[:1], tmp_path / "cut.jpg", "png")
    with pytest.raises(click.UsageError):
        expand_inputs([str(tmp_path / "missing.jpg")])
    with pytest.raises(click.UsageError):
        expand_inputs([str(tmp_path / "*.gif")])


def test_input_classification(tmp_path: Path) -> None:
    import base64

    from openbg._inputs import prepare_bg_image, prepare_image

    png = io.BytesIO()
    Image.new("RGB", (2, 2)).save(png, format="PNG")
    data = png.getvalue()
    (tmp_path / "p.png").write_bytes(data)
    assert prepare_image(str(tmp_path / "p.png")).filename == "p.png"
    assert prepare_image(tmp_path / "p.png").data == data
    assert prepare_image(data).filename == "image.png" and prepare_image(data).mime_type == "image/png"
    assert prepare_image("https://example.com/a.jpg").url == "https://example.com/a.jpg"
    b64 = base64.b64encode(data).decode()
    assert prepare_image(b64).b64 == b64
    assert prepare_image("data:image/png;base64," + b64).b64 is not None
    with pytest.raises(FileNotFoundError):
        prepare_bg_image(b64)  # no base64 for backgrounds in the API
    with pytest.raises(TypeError):
        prepare_image(io.StringIO("text"))


def test_removal_options_to_fields() -> None:
    import dataclasses

    from openbg import RemovalOptions

    defaults = RemovalOptions().to_fields()
    assert defaults == {"size": "preview", "type": "auto", "type_level": "1", "format": "auto", "channels": "rgba",
                        "crop": "false", "semitransparency": "true"}
    o = RemovalOptions(size="full", scale=50, add_shadow=True, shadow_type={"car": "car", "person": "3D"},
                       shadow_opacity="auto", bg_color="fff", bg_image=b"png bytes", quality="best",
                       prefer_zip=True, extra_fields={"crop": "true", "new_field": "x"})
    fields = o.to_fields()
    assert fields["format"] == "zip" and fields["scale"] == "50%" and fields["add_shadow"] == "true"
    assert fields["shadow_type[car]"] == "car" and fields["shadow_type[person]"] == "3D"
    assert fields["shadow_opacity"] == "auto" and fields["quality"] == "best" and fields["bg_color"] == "fff"
    assert fields["crop"] == "true" and fields["new_field"] == "x"  # extra fields win
    assert not any(k.startswith("bg_image") for k in fields)  # a file part, not a text field
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.size = "preview"  # type: ignore[misc]
    with pytest.raises(ValueError, match="prefer_zip"):
        RemovalOptions(format="jpg", prefer_zip=True)


def test_remove_background_keywords_are_the_options_fields() -> None:
    """The keyword list is spelled once: both clients' ``remove_background`` take exactly the fields of
    ``RemovalOptions``, with their defaults, as ``help()`` and ``inspect`` show them."""
    import dataclasses
    import inspect

    from openbg import AsyncRemoveBg, RemovalOptions, RemoveBg

    fields = {f.name: f.default for f in dataclasses.fields(RemovalOptions)}
    for method in (RemoveBg.remove_background, AsyncRemoveBg.remove_background):
        params = inspect.signature(method).parameters
        assert list(params)[:2] == ["self", "image"]
        assert {n: p.default for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY} == fields
    assert inspect.iscoroutinefunction(AsyncRemoveBg.remove_background)
    assert not inspect.iscoroutinefunction(RemoveBg.remove_background)


def test_cli_builds_the_removal_options() -> None:
    import dataclasses

    import click
    from openbg import RemovalOptions
    from openbg.cli import removal_options, remove

    def parse(*args: str) -> RemovalOptions:
        params = dict(remove.make_context("remove", ["x.jpg", "-o", "out", *args]).params)
        params["type"] = params.pop("type_")
        return removal_options(params)

    flags = {p.name for p in remove.params} | {"type", "format"}
    assert {f.name for f in dataclasses.fields(RemovalOptions)} - flags == {"prefer_zip", "extra_fields"}
    assert parse() == RemovalOptions(size="auto")
    assert parse("--size", "4K", "--crop", "--scale", "50%", "--shadow-type", "car=CAR", "--shadow-opacity",
                 "car=80", "--shadow-opacity", "person=auto", "--bg-image", "https://e.x/bg.jpg") == RemovalOptions(
        size="4k", crop=True, scale="50%", shadow_type={"car": "car"}, shadow_opacity={"car": 80, "person": "auto"},
        bg_image="https://e.x/bg.jpg")
    assert parse("--shadow-type", "3d", "--bg-image", "bg.png").shadow_type == "3D"
    assert parse("--bg-image", "bg.png").bg_image == Path("bg.png")
    for flag, value in (("--shadow-type", "huge"), ("--shadow-opacity", "dark")):
        with pytest.raises(click.BadParameter, match="is not one of") as bad:
            parse(flag, value)
        assert bad.value.param_hint == flag


def test_responses_are_read_with_the_generated_models() -> None:
    from openbg import _generated as gen
    from openbg.client import RemoveBg
    from removebg_api.models import Error, ImproveResult

    parsed = Error.from_dict({"errors": [{"title": "Invalid size", "code": "invalid_size", "detail": "x"}]})
    e = error_from_response(400, b"not read again", {}, parsed=parsed)
    assert (e.code, e.title, e.detail, e.errors) == ("invalid_size", "Invalid size", "x",
                                                      [{"title": "Invalid size", "code": "invalid_size", "detail": "x"}])
    e = _err(404, b'{"errors": [{"title": "Not found", "code": "not_found"}]}')  # not in the spec: from_dict
    assert e.code == "not_found" and e.title == "Not found"
    assert _err(400, b'{"errors": [{"title": 5}]}').title == "Unable to parse response"
    ok = ImproveResult.from_dict({"id": "fe09820b-be79-4511-8836-679583529882"})
    assert RemoveBg._improve_id(gen.RawResponse(200, {}, b"", ok)) == "fe09820b-be79-4511-8836-679583529882"
    with pytest.raises(RemoveBgError, match="Unable to parse response"):
        RemoveBg._improve_id(gen.RawResponse(200, {}, b'{"id": "not-a-uuid"}', None))  # the parser refused it
    with pytest.raises(RemoveBgError, match="Unable to parse response"):
        RemoveBg._account(gen.RawResponse(200, {}, b"{}", None))
    with pytest.raises(RemoveBgError, match="Unable to parse response"):
        Account.from_json({"data": {"attributes": {"credits": {"total": "lots", "subscription": 0, "payg": 0,
                                                               "enterprise": 0}, "api": {"free_calls": 1, "sizes": "all"}}}})
