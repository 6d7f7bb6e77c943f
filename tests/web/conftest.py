"""Fixtures for the web pages' tests: a real ``openbg serve`` whose admin token was made by
``openbg admin token``, and Debian's headless chromium driven by Selenium through /usr/bin/chromedriver.

`make test` installs chromium and chromium-driver (its ``browser`` prerequisite); nothing here downloads a
browser or a driver (Selenium Manager is kept offline and never asked: the driver's path is given).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(tempfile.gettempdir()) / "openbg-web-screenshots"


@pytest.fixture(scope="module")
def web_server(emulator_server_class, tmp_path_factory) -> Iterator:  # type: ignore[no-untyped-def]
    """A server whose admin token is the state dir's, created by ``openbg admin token`` before it starts."""
    state = tmp_path_factory.mktemp("web") / "state"
    env = dict(os.environ, OPENBG_STATE_DIR=str(state))
    env.pop("OPENBG_ADMIN_TOKEN", None)
    out = subprocess.run([sys.executable, "-m", "openbg_emulator.server_cli", "admin", "token"], env=env,
                         capture_output=True, text=True, check=True)
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("obgadm_") and len(token) > 30
    assert (state / "admin_token").stat().st_mode & 0o077 == 0  # only the owner may read it
    server = emulator_server_class(state, {"OPENBG_ADMIN_TOKEN": None}, ["--test-controls"])  # type: ignore[dict-item]
    server.admin_token = token
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator:  # type: ignore[no-untyped-def]
    assert shutil.which("chromium") and Path(CHROMEDRIVER).exists(), \
        "Debian's chromium and chromium-driver are needed: `make test` installs them (apt-get install chromium chromium-driver)"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1100",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--metrics-recording-only"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    driver.implicitly_wait(0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
