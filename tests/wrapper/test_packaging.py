"""What an outside user installs: the wheel type-checks under the user's own mypy, and the pytest kit
(``openbg.testing``) runs the documented example suite in a project of the user's own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

USER_PROGRAM = '''
import asyncio
from openbg import AsyncRemoveBg, RemoveBg, Size

def main() -> None:
    with RemoveBg("k", "http://127.0.0.1:5000/v1.0") as client:
        result = client.remove_background("photo.jpg", size="full", format="zip")
        reveal_type(result)
        reveal_type(result.width)
        reveal_type(client.account().credits.total)
    size: Size = "50MP"
    reveal_type(size)

async def amain() -> None:
    async with AsyncRemoveBg("k", "http://127.0.0.1:5000/v1.0") as client:
        reveal_type(await client.remove_background(b"..."))
'''

USER_MISTAKE = '''
from openbg import RemoveBg
RemoveBg("k").remove_background("photo.jpg", size="huge")
'''


@pytest.mark.server_python_only
@pytest.mark.slow
def test_wheel_type_checks_in_a_clean_virtualenv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO)],
                   check=True, timeout=600)
    (wheel,) = dist.glob("openbg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("openbg/py.typed", "removebg_api/py.typed", "openbg_emulator/py.typed",
                   "openbg_emulator/openapi.yaml", "openbg/testing.py", "openbg_emulator/web/static/index.html",
                   "openbg_emulator/web/vendor/swagger-ui-bundle.js", "openbg_emulator/migrations/env.py",
                   "openbg_emulator/migrations/versions/0002_rate_windows.py"):
        assert needed in names, needed
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(REPO / "constraints.txt")]
    subprocess.run([*pip, str(wheel), "mypy"], check=True, timeout=600)
    user = tmp_path / "user"
    user.mkdir()
    (user / "app.py").write_text(USER_PROGRAM)
    (user / "mistake.py").write_text(USER_MISTAKE)
    mypy = str(venv / "bin" / "mypy")
    ok = subprocess.run([mypy, "--strict", "--no-incremental", "app.py"], cwd=user, capture_output=True, text=True,
                        timeout=300, check=False)
    revealed = re.findall(r'Revealed type is "([^"]+)"', ok.stdout)
    assert revealed == ["openbg.results.Result", "int | None", "float",
                        ("Literal['4k'] | Literal['50MP'] | Literal['auto'] | Literal['full'] | Literal['hd'] | "
                        "Literal['medium'] | Literal['preview'] | Literal['regular'] | Literal['small']"),
                        "openbg.results.Result"], ok.stdout
    assert "error" not in ok.stdout.replace("no issues", ""), ok.stdout
    bad = subprocess.run([mypy, "--strict", "--no-incremental", "mistake.py"], cwd=user, capture_output=True,
                         text=True, timeout=300, check=False)
    assert bad.returncode == 1 and 'Argument "size"' in bad.stdout and "Literal['huge']" in bad.stdout, bad.stdout


def test_the_testing_kit_runs_the_documented_example(tmp_path: Path) -> None:
    project = tmp_path / "their-project"
    project.mkdir()
    (project / "conftest.py").write_text('pytest_plugins = ["openbg.testing"]\n')
    shutil.copy(REPO / "docs" / "examples" / "test_with_openbg.py", project / "test_with_openbg.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "REMOVE_BG_", "OPENBG_BASE"))}
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(project),
                        str(project)], cwd=project, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert p.returncode == 0, p.stdout[-6000:] + p.stderr[-3000:]
    assert "6 passed" in p.stdout, p.stdout[-3000:]
