"""generated/removebg_api: reproducible from openapi.yaml (drift check) and usable as a client — every
operation has sync and async functions, all three request encodings go out as the wire format says, binary
results come back as bytes, and response headers are reachable."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.contract.spec_tools import REPO, load_spec, operations

SPEC = load_spec()
BIN = Path(sys.executable).parent


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_drift_check() -> None:
    """``codegen.sh --check`` regenerates into a temporary folder and compares with the committed code."""
    if not (BIN / "openapi-python-client").exists() and shutil.which("openapi-python-client") is None:
        pytest.fail("openapi-python-client is not installed (make install)")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [str(REPO / "codegen.sh"), "--check"],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"generated/ is out of date:\n{proc.stdout}\n{proc.stderr}"


def test_no_stray_files_in_generated() -> None:
    root = REPO / "generated" / "removebg_api"
    names = {p.name for p in root.rglob("*")}
    assert ".ruff_cache" not in names
    assert all(
        p.suffix in {".py", ".typed", ".md"} or p.is_dir()
        for p in root.rglob("*")
        if "__pycache__" not in p.parts
    )


@pytest.mark.parametrize(
    "path,method,operation", list(operations(SPEC)), ids=[f"{m} {p}" for p, m, _ in operations(SPEC)]
)
def test_every_operation_has_sync_and_async_functions(path: str, method: str, operation: dict) -> None:
    tag = operation["tags"][0]
    module = importlib.import_module(f"removebg_api.api.{tag}.{_snake(operation['operationId'])}")
    for fn in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
        assert callable(getattr(module, fn)), f"{module.__name__}.{fn}"
    assert asyncio.iscoroutinefunction(module.asyncio_detailed)


def test_models_and_literals() -> None:
    from removebg_api import models
    from removebg_api.models.size import SIZE_VALUES

    assert {"50MP", "4k", "preview", "auto"} <= set(SIZE_VALUES)
    for name in (
        "RemoveBgMultipart",
        "RemoveBgForm",
        "RemoveBgJson",
        "ShadowTypeMap",
        "ShadowOpacityMap",
        "ImproveMultipart",
        "ImproveForm",
        "ImproveJson",
        "ImproveResult",
        "Account",
        "Error",
        "RemoveBgJsonResponse",
    ):
        assert hasattr(models, name), name


PNG = bytes.fromhex("89504e470d0a1a0a")


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        rate = {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "499", "X-RateLimit-Reset": "1700000000"}
        if path.endswith("/account"):
            body = {
                "data": {
                    "attributes": {
                        "credits": {"total": 1.25, "subscription": 1, "payg": 0.25, "enterprise": 0},
                        "api": {"free_calls": 3, "sizes": "all"},
                    }
                }
            }
            return httpx.Response(200, json=body, headers=rate)
        if path.endswith("/improve"):
            return httpx.Response(200, json={"id": "fe09820b-be79-4511-8836-679583529882"})
        if path.endswith("/removebg.json"):
            data = {
                "result_b64": "iVBORw0KGgo=",
                "foreground_top": 1,
                "foreground_left": 2,
                "foreground_width": 3,
                "foreground_height": 4,
            }
            return httpx.Response(200, json={"data": data}, headers=rate)
        if request.headers.get("X-Openbg-Force-Status") == "429":
            return httpx.Response(
                429,
                json={"errors": [{"title": "Rate limit exceeded", "code": "rate_limit_exceeded"}]},
                headers={**rate, "Retry-After": "7"},
            )
        headers = {
            **rate,
            "Content-Type": "image/png",
            "X-Width": "10",
            "X-Height": "20",
            "X-Type": "person",
            "X-Credits-Charged": "0.25",
        }
        return httpx.Response(200, content=PNG, headers=headers)


def _client(recorder: Recorder) -> Any:
    from removebg_api import AuthenticatedClient

    return AuthenticatedClient(
        base_url="http://emulator.test/v1.0",
        token="KEY",
        prefix="",
        auth_header_name="X-API-Key",
        httpx_args={"transport": httpx.MockTransport(recorder)},
    )


def _multipart_fields(request: httpx.Request) -> dict[str, bytes]:
    """Parse the generated multipart body (the boundary is taken from its Content-Type)."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    fields: dict[str, bytes] = {}
    for part in request.content.split(b"--" + boundary)[1:-1]:
        assert part.startswith(b"\r\n") and part.endswith(b"\r\n")
        head, _, value = part[2:-2].partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        fields[name] = value
    return fields


def test_multipart_with_file_and_per_type_shadows() -> None:
    from removebg_api.api.removebg import remove_background
    from removebg_api.models import RemoveBgMultipart
    from removebg_api.types import File

    rec = Recorder()
    body = RemoveBgMultipart(
        image_file=File(payload=PNG, file_name="in.png", mime_type="image/png"),
        size="50MP",
        crop=True,
        shadow_typecar="car",
        shadow_opacitycar=80,
        quality="best",
    )
    response = remove_background.sync_detailed(client=_client(rec), body=body)
    request = rec.requests[-1]
    assert request.headers["X-API-Key"] == "KEY"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = _multipart_fields(request)
    assert fields["image_file"] == PNG
    assert fields["size"] == b"50MP" and fields["quality"] == b"best"
    assert fields["shadow_type[car]"] == b"car" and fields["shadow_opacity[car]"] == b"80"
    assert fields["crop"].lower() == b"true"  # the generator writes Python's "True"; the server ignores case
    assert "type" not in fields and "roi" not in fields  # only what the caller set is sent
    # binary result and headers
    assert response.status_code == 200
    assert response.parsed is not None and response.parsed.payload.read() == PNG
    assert response.headers["X-Width"] == "10" and response.headers["x-credits-charged"] == "0.25"


def test_urlencoded() -> None:
    from removebg_api.api.removebg import remove_background
    from removebg_api.models import RemoveBgForm

    rec = Recorder()
    body = RemoveBgForm(
        image_url="https://example.com/a.jpg",
        bg_color="81d4fa77",
        shadow_typeproduct="drop",
        shadow_opacity="auto",
    )
    remove_background.sync_detailed(client=_client(rec), body=body)
    request = rec.requests[-1]
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "image_url": ["https://example.com/a.jpg"],
        "bg_color": ["81d4fa77"],
        "shadow_type[product]": ["drop"],
        "shadow_opacity": ["auto"],
    }


def test_json_with_maps_and_legacy_json_endpoint() -> None:
    from removebg_api.api.removebg import remove_background_json
    from removebg_api.models import RemoveBgJson, RemoveBgJsonResponse, ShadowOpacityMap, ShadowTypeMap

    rec = Recorder()
    body = RemoveBgJson(
        image_file_b64="iVBORw0KGgo=",
        format_="zip",
        crop=False,
        shadow_type=ShadowTypeMap(car="car", person="3D"),
        shadow_opacity=ShadowOpacityMap(car=90),
    )
    response = remove_background_json.sync_detailed(client=_client(rec), body=body)
    request = rec.requests[-1]
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "image_file_b64": "iVBORw0KGgo=",
        "format": "zip",
        "crop": False,
        "shadow_type": {"car": "car", "person": "3D"},
        "shadow_opacity": {"car": 90},
    }
    assert isinstance(response.parsed, RemoveBgJsonResponse)
    assert response.parsed.data.foreground_height == 4
    assert response.headers["X-RateLimit-Remaining"] == "499"


def test_error_and_test_header() -> None:
    from removebg_api.api.removebg import remove_background
    from removebg_api.models import Error, RemoveBgJson

    rec = Recorder()
    response = remove_background.sync_detailed(
        client=_client(rec),
        body=RemoveBgJson(image_url="https://e.x/a"),
        x_openbg_force_status=429,
        x_openbg_retry_after=7,
    )
    assert rec.requests[-1].headers["X-Openbg-Retry-After"] == "7"
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert isinstance(response.parsed, Error) and response.parsed.errors[0].code == "rate_limit_exceeded"


def test_async_account_and_improve() -> None:
    from removebg_api.api.account import get_account
    from removebg_api.api.improve import submit_improvement
    from removebg_api.models import ImproveJson, ImproveMultipart
    from removebg_api.types import File

    async def run() -> None:
        rec = Recorder()
        client = _client(rec)
        account = await get_account.asyncio(client=client)
        assert account is not None and account.data.attributes.credits_.payg == 0.25
        assert account.data.attributes.api.free_calls == 3
        result = await submit_improvement.asyncio(
            client=client, body=ImproveJson(image_url="https://e.x/a", tag="batch_1")
        )
        assert result is not None and str(result.id) == "fe09820b-be79-4511-8836-679583529882"
        await submit_improvement.asyncio(
            client=client,
            body=ImproveMultipart(image_file=File(payload=PNG, file_name="x.png"), image_filename="x.png"),
        )
        assert _multipart_fields(rec.requests[-1])["image_filename"] == b"x.png"

    asyncio.run(run())


USER_PROGRAM = """\
import asyncio

from openbg import AsyncRemoveBg, RemovalOptions, RemoveBg, Size

tier: Size = "8k"
options = RemovalOptions(size="8k", format="png")
with RemoveBg("k", "http://127.0.0.1:9/v1.0") as client:
    client.remove_background("a.jpg", size="8k")
    client.remove_background_with("a.jpg", options)


async def main() -> None:
    async with AsyncRemoveBg("k", "http://127.0.0.1:9/v1.0") as client:
        await client.remove_background("a.jpg", size="8k", prefer_zip=True)


asyncio.run(main())
"""


def test_a_spec_change_flows_into_the_wrapper(tmp_path: Path) -> None:
    """Spec-driven regeneration: openapi.yaml, copied to a scratch folder, gets one more ``size`` value and is
    regenerated there as ``codegen.sh`` does (the pinned openapi-python-client, codegen.yaml). The committed
    wrapper, not edited and not copied, then accepts the value: a user's program using it passes
    ``mypy --strict`` against the regenerated client (and fails, at exactly its lines that use it, against
    the committed one), the request body is built with it, and ``openbg remove --size`` lists it."""
    for name in ("openapi.yaml", "codegen.sh", "codegen.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    spec = (tmp_path / "openapi.yaml").read_text()
    old = "      enum: [preview, small, regular, medium, hd, full, 4k, 50MP, auto]\n"
    assert spec.count(old) == 1
    (tmp_path / "openapi.yaml").write_text(spec.replace(old, old.replace("auto]", "auto, 8k]")))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(tmp_path / "codegen.sh")], cwd=tmp_path, env=env, check=True, capture_output=True,
                   timeout=180)
    regenerated = tmp_path / "generated"
    assert '"8k"' in (regenerated / "removebg_api" / "models" / "size.py").read_text()
    program = tmp_path / "user.py"
    program.write_text(USER_PROGRAM)
    uses = [n for n, line in enumerate(USER_PROGRAM.splitlines(), 1) if '"8k"' in line]
    assert len(uses) == 4

    def mypy(generated: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file",
             str(REPO / "pyproject.toml"), str(program)],
            env={**env, "MYPYPATH": os.pathsep.join([str(generated), str(REPO / "wrapper")])}, cwd=tmp_path,
            capture_output=True, text=True, timeout=300, check=False)

    before = mypy(REPO / "generated")
    flagged = sorted({int(line.split(":")[1]) for line in before.stdout.splitlines() if ": error:" in line})
    assert before.returncode == 1 and flagged == uses and "Literal['8k']" in before.stdout, before.stdout
    after = mypy(regenerated)
    assert after.returncode == 0, after.stdout
    path = os.pathsep.join([str(regenerated), str(REPO / "wrapper")])
    run = subprocess.run(
        [sys.executable, "-c", ("from openbg import RemovalOptions\n"
         "from openbg._generated import removebg_body\nfrom openbg._inputs import prepare_image\n"
         "print(removebg_body(prepare_image(b'x'), None, RemovalOptions(size='8k').to_fields()).size)")],
        env={**env, "PYTHONPATH": path}, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "8k", run.stdout + run.stderr
    cli = subprocess.run(
        [sys.executable, "-c", "from openbg.cli import main; main()", "remove", "--help"],
        env={**env, "PYTHONPATH": path}, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert cli.returncode == 0 and "8k" in cli.stdout, cli.stdout + cli.stderr
