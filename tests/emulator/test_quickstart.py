"""remove.bg's documented quick-start calls, for real, against the live emulator (only URL and key changed)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import textwrap

import pytest
import requests

from tests.emulator.emu_helpers import assert_cutout


@pytest.fixture(scope="module")
def key(live_server) -> str:  # type: ignore[no-untyped-def]
    return live_server.create_key("quickstart", credits=20)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_image_file(live_server, key, photo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "no-bg.png"
    subprocess.run(
        ["curl", "-sS", "-H", f"X-Api-Key: {key}", "-F", f"image_file=@{photo}", "-F", "size=auto", "-f",
         "-o", str(out), f"{live_server.base_url}/removebg"],
        check=True, timeout=120,
    )
    assert_cutout(out.read_bytes())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_image_url(live_server, key, image_host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "no-bg.png"
    subprocess.run(
        ["curl", "-sS", "-H", f"X-Api-Key: {key}", "-F", f"image_url={image_host.url('/img.jpg')}",
         "-F", "size=auto", "-f", "-o", str(out), f"{live_server.base_url}/removebg"],
        check=True, timeout=120,
    )
    assert_cutout(out.read_bytes())
    assert "/img.jpg" in image_host.hits


def test_python_requests(live_server, key, photo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the quick-start sample, verbatim but for the URL and key
    response = requests.post(
        f"{live_server.base_url}/removebg",
        files={"image_file": open(photo, "rb")},  # noqa: SIM115 - as in the sample
        data={"size": "auto"},
        headers={"X-Api-Key": key},
        timeout=120,
    )
    if response.status_code == requests.codes.ok:
        with open(tmp_path / "no-bg.png", "wb") as out:
            out.write(response.content)
    else:
        pytest.fail(f"Error: {response.status_code} {response.text}")
    assert_cutout((tmp_path / "no-bg.png").read_bytes())
    assert response.headers["X-Credits-Charged"] in ("0", "0.25")


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_node_fetch_formdata(live_server, key, photo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "qs.mjs"
    script.write_text(textwrap.dedent("""
        import fs from "node:fs";
        async function removeBg(imagePath) {
          const formData = new FormData();
          formData.append("size", "auto");
          formData.append("image_file", await fs.openAsBlob(imagePath), "file.jpg");
          const response = await fetch(process.env.API_URL + "/removebg", {
            method: "POST",
            headers: { "X-Api-Key": process.env.API_KEY },
            body: formData,
          });
          if (response.ok) {
            return await response.arrayBuffer();
          } else {
            throw new Error(`${response.status}: ${response.statusText} ${await response.text()}`);
          }
        }
        const rbgResultData = await removeBg(process.argv[2]);
        fs.writeFileSync(process.argv[3], Buffer.from(rbgResultData));
    """))
    out = tmp_path / "no-bg.png"
    env = {"API_URL": live_server.base_url, "API_KEY": key, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    p = subprocess.run(["node", str(script), str(photo), str(out)], env=env, capture_output=True, text=True, check=False,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert_cutout(out.read_bytes())


def test_generated_client(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    """The generated removebg_api client works with only base URL and key changed."""
    removebg_api = pytest.importorskip("removebg_api")
    from removebg_api.api.account import get_account

    client = removebg_api.AuthenticatedClient(base_url=live_server.base_url, token=key, prefix="",
                                              auth_header_name="X-API-Key")
    acc = get_account.sync(client=client)
    assert acc is not None
    assert acc.data.attributes.api.sizes == "all"
    _ = base64  # (JSON bodies are exercised in test_encodings)
