"""The web pages (/, /docs, /admin) in a real headless chromium against a real ``openbg serve``.

Screenshots of every page go to ``$TMPDIR/openbg-web-screenshots/``.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.timeout(600)

SHOTS = Path(tempfile.gettempdir()) / "openbg-web-screenshots"
PAGES = {"/": "index.html", "/docs": "docs.html", "/admin": "login.html"}


# ----------------------------------------------------------------------------- helpers
def photo(tmp_path: Path) -> Path:
    """A real photo (scikit-image's astronaut, a person on a plain background), 320×320 JPEG."""
    from skimage import data

    p = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).resize((320, 320)).save(p, quality=92)
    return p


def wait_for(driver, cond, timeout: float = 90, what: str = ""):  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(cond, message=what)


def by_id(driver, i):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, i)


def csp_errors(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["message"] for e in driver.get_log("browser")
            if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]


def fill_try_it(driver, base: str, key: str, image: Path, *, fmt: str = "png", size: str = "auto") -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import Select

    driver.get(base + "/")
    k = by_id(driver, "key")
    k.clear()
    k.send_keys(key)
    by_id(driver, "file").send_keys(str(image))
    Select(by_id(driver, "format")).select_by_value(fmt)
    Select(by_id(driver, "size")).select_by_value(size)
    by_id(driver, "go").click()


def message(driver) -> str:  # type: ignore[no-untyped-def]
    wait_for(driver, lambda d: by_id(d, "msg").text.strip() != "" and by_id(d, "go").is_enabled(), 120, "a message")
    return str(by_id(driver, "msg").text)


def login_admin(driver, base: str, token: str) -> None:  # type: ignore[no-untyped-def]
    driver.get(base + "/admin")
    by_id(driver, "token").send_keys(token)
    by_id(driver, "go").click()
    wait_for(driver, lambda d: d.find_elements("id", "keys") and len(d.find_elements("css selector", "#keys tr")) > 0,
             30, "the key table")


# ----------------------------------------------------------------------------- HTTP-level checks
def test_pages_have_a_strict_csp_and_no_inline_script(web_server) -> None:  # type: ignore[no-untyped-def]
    weights = {}
    for path in PAGES:
        r = httpx.get(web_server.root_url + path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp).group(1)  # type: ignore[union-attr]
        assert script_src.strip() == "'self'", csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        html = r.text
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all("src=" in s for s in scripts), scripts  # no inline script
        assert not re.search(r"\son[a-z]+=", html), "inline event handler"
        weights[path] = len(r.content) + sum(
            len(httpx.get(web_server.root_url + u).content)
            for u in re.findall(r'(?:src|href)="(/(?:static|vendor|admin)/[^"]+)"', html))
    print("page weights (HTML + own CSS/JS, uncompressed):", weights)
    assert weights["/"] < 40_000 and weights["/admin"] < 20_000


def test_admin_api_needs_login_and_csrf(web_server) -> None:  # type: ignore[no-untyped-def]
    base = web_server.root_url
    for path in ("/admin/api/keys", "/admin/api/state", "/admin/api/session", "/admin/admin.js",
                 "/admin/api/keys/x/ledger", "/static/admin.js", "/admin/whatever"):
        r = httpx.get(base + path)
        assert r.status_code in (401, 404), path
        assert "obg_" not in r.text
    assert httpx.post(base + "/admin/api/keys", json={"name": "x"}).status_code == 401
    assert "access-control-allow-origin" not in httpx.get(base + "/admin").headers
    # wrong token: refused, no cookie
    r = httpx.post(base + "/admin/login", json={"token": "wrong"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    assert httpx.post(base + "/admin/login", content=f"token={web_server.admin_token}",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    assert httpx.post(base + "/admin/login", json={"token": web_server.admin_token},
                      headers={"Origin": "http://evil.example"}).status_code == 403
    with httpx.Client(base_url=base) as c:
        r = c.post("/admin/login", json={"token": web_server.admin_token})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
        csrf = r.json()["csrf"]
        assert c.get("/admin/api/keys").status_code == 200
        # a state change without the CSRF header, with a wrong one, or from another origin: refused
        assert c.post("/admin/api/keys", json={"name": "n"}).status_code == 403
        assert c.post("/admin/api/keys", json={"name": "n"}, headers={"X-CSRF-Token": "nope"}).status_code == 403
        assert c.post("/admin/api/keys", json={"name": "n"},
                      headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}).status_code == 403
        assert c.post("/admin/api/keys", json={"name": "n"},
                      headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}).status_code == 403
        r = c.post("/admin/api/keys", json={"name": "csrf-ok", "credits": 2}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201 and r.json()["key"].startswith("obg_")
        bad = c.post("/admin/api/keys", json={"name": "n", "credits": -1}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code == 400 and bad.json()["errors"][0]["detail"]
        assert c.post("/admin/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        assert c.get("/admin/api/keys").status_code == 401
    log = web_server.log_tail(200_000)
    assert web_server.admin_token not in log and "obg_" not in log


def test_env_admin_token_overrides_the_stored_one(emulator_factory) -> None:  # type: ignore[no-untyped-def]
    s = emulator_factory(env={"OPENBG_ADMIN_TOKEN": "env-token-0123456789"})
    assert httpx.post(s.root_url + "/admin/login", json={"token": "env-token-0123456789"}).status_code == 200
    assert httpx.post(s.root_url + "/admin/login", json={"token": "env-token-012345678"}).status_code == 403


# ----------------------------------------------------------------------------- the browser
def test_try_it_page_cuts_out_a_photo(web_server, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    img = photo(tmp_path)
    browser.get(web_server.root_url + "/")
    browser.save_screenshot(str(SHOTS / "try-it-empty.png"))
    fill_try_it(browser, web_server.root_url, web_server.api_key, img, fmt="png", size="full")
    wait_for(browser, lambda d: by_id(d, "download").is_displayed(), 120, "the download link")
    assert "Done" in by_id(browser, "msg").text
    assert by_id(browser, "s-credits").text == "1"
    assert by_id(browser, "s-type").text == "person"
    assert by_id(browser, "s-size").text == "320 × 320"
    assert by_id(browser, "s-time").text.endswith(" s")
    wait_for(browser, lambda d: d.execute_script(
        "const i=document.querySelector('#result-view img'); return i && i.complete && i.naturalWidth>0"), 10)
    wait_for(browser, lambda d: by_id(d, "compare-wrap").is_displayed(), 10, "the before/after view")
    browser.execute_script("document.getElementById('split').value=30;"
                           "document.getElementById('split').dispatchEvent(new Event('input'))")
    assert by_id(browser, "split-out").text == "30%"
    assert web_server.api_key not in browser.current_url
    assert browser.execute_script("return localStorage.getItem('openbg.apiKey')") is None
    browser.save_screenshot(str(SHOTS / "try-it-result.png"))
    browser.execute_script("document.getElementById('compare-wrap').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "try-it-compare.png"))
    by_id(browser, "download").click()
    out = browser.downloads / "astronaut-no-bg.png"
    deadline = time.monotonic() + 20
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert out.exists(), list(browser.downloads.iterdir())
    cut = Image.open(io.BytesIO(out.read_bytes()))
    assert cut.mode == "RGBA" and cut.size == (320, 320)
    alpha = np.asarray(cut)[:, :, 3]
    assert (alpha == 0).mean() > 0.15, "a background was removed"
    assert (alpha == 255).mean() > 0.15, "the person was kept"
    assert alpha[160, 150] == 255 and alpha[10, 300] == 0  # face opaque, top-right background clear
    assert csp_errors(browser) == []


def test_try_it_page_remembers_the_key_only_when_asked(web_server, browser) -> None:  # type: ignore[no-untyped-def]
    browser.get(web_server.root_url + "/")
    by_id(browser, "key").send_keys("obg_remembered")
    by_id(browser, "remember").click()
    assert browser.execute_script("return localStorage.getItem('openbg.apiKey')") == "obg_remembered"
    browser.refresh()
    assert by_id(browser, "key").get_attribute("value") == "obg_remembered"
    by_id(browser, "remember").click()
    assert browser.execute_script("return localStorage.getItem('openbg.apiKey')") is None


def test_try_it_page_explains_403_402_429(web_server, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    img = photo(tmp_path)
    fill_try_it(browser, web_server.root_url, "obg_not_a_real_key", img)
    text = message(browser)
    assert "403" in text and "API Key invalid" in text and "Check the API key" in text
    browser.save_screenshot(str(SHOTS / "try-it-403.png"))
    broke = web_server.create_key("broke", credits=0, free_calls=0)
    fill_try_it(browser, web_server.root_url, broke, img, size="full")
    text = message(browser)
    assert "402" in text and "insufficient_credits" in text and "no credits" in text
    browser.save_screenshot(str(SHOTS / "try-it-402.png"))
    limited = web_server.create_key("limited", credits=10, rate_limit=0)
    fill_try_it(browser, web_server.root_url, limited, img)
    text = message(browser)
    assert "429" in text and "Rate limit" in text and re.search(r"try again in \d+ s", text)
    browser.save_screenshot(str(SHOTS / "try-it-429.png"))
    # the error text is text: the message holds only the elements the page made
    assert browser.execute_script("return document.querySelectorAll('#msg *:not(strong):not(span)').length") == 0
    assert csp_errors(browser) == []


def test_docs_page_renders_the_reference_offline(web_server, browser) -> None:  # type: ignore[no-untyped-def]
    browser.get(web_server.root_url + "/docs")
    wait_for(browser, lambda d: len(d.find_elements("css selector", ".opblock")) >= 3, 60, "the operations")
    body = browser.find_element("css selector", "#swagger").text
    assert "/removebg" in body and "/account" in body
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "nav.card a")]
    assert any(h.endswith("/docs/manual/web.md") for h in links)
    assert httpx.get(web_server.root_url + "/docs/manual/web.md").status_code == 200
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(u.startswith(web_server.root_url) for u in resources), resources
    browser.save_screenshot(str(SHOTS / "docs.png"))
    # open an operation and its "Try it out" form: still nothing refused by the CSP
    browser.find_element("css selector", ".opblock-post .opblock-summary").click()
    wait_for(browser, lambda d: d.find_elements("css selector", ".opblock-post .try-out__btn"), 20, "Try it out")
    browser.find_element("css selector", ".opblock-post .try-out__btn").click()
    wait_for(browser, lambda d: d.find_elements("css selector", ".opblock-post .execute"), 20, "Execute")
    browser.execute_script("document.querySelector('.opblock-post').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "docs-operation.png"))
    assert csp_errors(browser) == []


def test_admin_console_creates_uses_and_revokes_a_key(web_server, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    base = web_server.root_url
    browser.get(base + "/admin")
    browser.save_screenshot(str(SHOTS / "admin-login.png"))
    by_id(browser, "token").send_keys("wrong-token")
    by_id(browser, "go").click()
    wait_for(browser, lambda d: "Wrong admin token" in by_id(d, "msg").text, 10, "the refusal")
    login_admin(browser, base, web_server.admin_token)
    wait_for(browser, lambda d: "ready" in by_id(d, "state").text, 20, "the server state")
    state = by_id(browser, "state").text
    assert "Workers" in state and "Uptime" in state and "Queue" in state and "Model" in state

    # create a key in the console
    by_id(browser, "c-name").send_keys("from-console")
    by_id(browser, "c-credits").clear()
    by_id(browser, "c-credits").send_keys("5")
    by_id(browser, "create").find_element(By.CSS_SELECTOR, "button").click()
    wait_for(browser, lambda d: by_id(d, "newkey-value").text.startswith("obg_"), 10, "the new key")
    key = by_id(browser, "newkey-value").text
    kid = re.search(r"Created (k_\w+)", by_id(browser, "msg").text).group(1)  # type: ignore[union-attr]

    # use it from the try-it page
    fill_try_it(browser, base, key, photo(tmp_path), size="full")
    wait_for(browser, lambda d: by_id(d, "download").is_displayed(), 120, "the result")
    assert by_id(browser, "s-credits").text == "1"

    # its ledger and chart, credits and limits in the console
    browser.get(base + "/admin")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'#keys tr[data-id="{kid}"]'), 20, "the key row")
    row = browser.find_element(By.CSS_SELECTOR, f'#keys tr[data-id="{kid}"]')
    assert "4" in row.find_elements(By.TAG_NAME, "td")[3].text  # 5 - 1 credits
    row.find_element(By.XPATH, ".//button[text()='Details']").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart svg rect"), 10, "the chart")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart svg rect")) == 30
    assert "1 requests, 1 credits" in browser.find_element(By.CSS_SELECTOR, "#chart svg").get_attribute("aria-label")
    kinds = [tr.find_elements(By.TAG_NAME, "td")[1].text for tr in browser.find_elements(By.CSS_SELECTOR, "#ledger-rows tr")]
    assert kinds == ["charge", "grant"]
    by_id(browser, "d-amount").send_keys("2.5")
    by_id(browser, "credit").find_element(By.CSS_SELECTOR, "button").click()
    wait_for(browser, lambda d: "balance 6.5 credits" in by_id(d, "msg").text, 10, "the new balance")
    by_id(browser, "d-rate").clear()
    by_id(browser, "d-rate").send_keys("7")
    by_id(browser, "d-free").clear()
    by_id(browser, "d-free").send_keys("3")
    by_id(browser, "limits").find_element(By.CSS_SELECTOR, "button").click()
    wait_for(browser, lambda d: "rate limit 7, 3 free calls" in by_id(d, "msg").text, 10, "the new limits")
    info = web_server.key_info(kid)
    assert (info.credits, info.rate_limit, info.free_calls) == (6.5, 7, 3)
    browser.save_screenshot(str(SHOTS / "admin-console.png"))
    browser.execute_script("document.getElementById('ledger').scrollIntoView()")
    browser.save_screenshot(str(SHOTS / "admin-ledger.png"))

    # revoke it (two clicks) and see the try-it page refused
    rv = browser.find_element(By.CSS_SELECTOR, f'#keys tr[data-id="{kid}"] button.danger')
    rv.click()
    assert rv.text == "Confirm revoke"
    rv.click()
    wait_for(browser, lambda d: f"Revoked {kid}" in by_id(d, "msg").text, 10, "the revocation")
    assert web_server.key_info(kid).revoked
    fill_try_it(browser, base, key, photo(tmp_path))
    text = message(browser)
    assert "403" in text and "API Key invalid" in text
    assert csp_errors(browser) == []

    # logging out closes the console
    browser.get(base + "/admin")
    wait_for(browser, lambda d: d.find_elements(By.ID, "logout"), 10)
    by_id(browser, "logout").click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "token"), 10, "the login page")
    assert key not in web_server.log_tail(200_000)


def test_keys_commands_share_the_console_operations(tmp_path) -> None:
    import os

    env = dict(os.environ, OPENBG_STATE_DIR=str(tmp_path / "state"))

    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "openbg_emulator.server_cli", *args], check=False, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = cli("keys", "create", "--name", "cli", "--credits", "3")
    kid = re.search(r"created key (k_\w+)", out).group(1)  # type: ignore[union-attr]
    assert "rate limit 9, 4 free calls/month" in cli("keys", "limits", kid, "--rate-limit", "9", "--free-calls", "4")
    assert "rate limit 500, 4 free calls/month" in cli("keys", "limits", kid, "--rate-limit", "default")
    cli("keys", "credit", kid, "2")
    table = cli("keys", "ledger", kid, "--days", "3").splitlines()
    assert len(table) == 4 and table[-1].split()[1:] == ["0", "0", "0", "5", "5"]
    first = cli("admin", "token").strip()
    assert cli("admin", "token").strip() == first
    assert cli("admin", "token", "--new").strip() != first


def test_try_it_page_zip_url_drop_paste_and_labels(web_server, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import functools
    import http.server
    import threading

    from selenium.webdriver.support.ui import Select

    base = web_server.root_url
    img = photo(tmp_path)
    browser.get(base + "/")
    # every control has a label; the drop zone is reachable with the keyboard
    unlabelled = browser.execute_script(
        "return [...document.querySelectorAll('#form input, #form select')]"
        ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id)")
    assert unlabelled == []
    assert by_id(browser, "drop").get_attribute("tabindex") == "0"

    # a ZIP result is shown composed (color.jpg + alpha.png) and downloaded as the ZIP
    fill_try_it(browser, base, web_server.api_key, img, fmt="zip", size="full")
    wait_for(browser, lambda d: by_id(d, "download").is_displayed(), 120, "the ZIP result")
    assert by_id(browser, "download").get_attribute("download") == "astronaut-no-bg.zip"
    wait_for(browser, lambda d: d.execute_script(
        "const i=document.querySelector('#result-view img'); return i && i.complete && i.naturalWidth===320"), 10,
        "the composed ZIP")
    corner_alpha = browser.execute_script("""
        const i = document.querySelector('#result-view img'), c = document.createElement('canvas');
        c.width = i.naturalWidth; c.height = i.naturalHeight; const x = c.getContext('2d'); x.drawImage(i, 0, 0);
        return [x.getImageData(300, 10, 1, 1).data[3], x.getImageData(150, 160, 1, 1).data[3]];""")
    assert corner_alpha[0] < 10 and corner_alpha[1] > 245

    # an image URL (fetched by the server from a loopback image server) with a background colour
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        browser.get(base + "/")
        by_id(browser, "key").send_keys(web_server.api_key)
        by_id(browser, "url").send_keys(f"http://127.0.0.1:{httpd.server_address[1]}/{img.name}")
        Select(by_id(browser, "size")).select_by_value("full")
        Select(by_id(browser, "format")).select_by_value("jpg")
        Select(by_id(browser, "bgmode")).select_by_value("color")
        assert by_id(browser, "bgcolor").is_displayed()
        by_id(browser, "go").click()
        wait_for(browser, lambda d: by_id(d, "download").is_displayed(), 120, "the URL result")
        assert by_id(browser, "download").get_attribute("download") == "result-no-bg.jpg"
        assert by_id(browser, "s-size").text == "320 × 320"
    finally:
        httpd.shutdown()

    # drop and paste hand the page a file like a picked one
    for event in ("drop", "paste"):
        browser.get(base + "/")
        browser.execute_script("""
            const [event] = arguments;
            const c = document.createElement('canvas'); c.width = 64; c.height = 48;
            c.getContext('2d').fillRect(10, 10, 20, 20);
            c.toBlob((b) => {
              const dt = new DataTransfer(); dt.items.add(new File([b], 'shape.png', {type: 'image/png'}));
              const e = event === 'drop' ? new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true})
                                         : new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true});
              (event === 'drop' ? document.getElementById('drop') : document).dispatchEvent(e);
            }, 'image/png');""", event)
        wait_for(browser, lambda d: "shape.png" in by_id(d, "picked").text, 10, f"the {event}ped file")
        assert browser.execute_script("return document.querySelector('#orig-view img') !== null")
    assert csp_errors(browser) == []
