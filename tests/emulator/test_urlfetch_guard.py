"""The image_url guard — the one suite: decisions on every kind of address, with name resolution and connection
REPLACED BY FAKES (nothing here connects anywhere, even if the guard were broken: the fake connector never opens
a network socket; it answers from a local socketpair), including range boundaries (the first and last address of
each refused block and their public neighbours), cloud-metadata endpoints, redirects from an allowed host to
every loopback spelling and DNS rebinding. Plus live checks of loopback refusal and of timeouts, caps and
redirects against servers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import httpx
import pytest
from openbg_emulator import urlfetch
from openbg_emulator.errors import ApiError

from tests.emulator.emu_helpers import error_code

IMAGE = b"\x89PNG\r\n\x1a\n fake image bytes"


class FakeNet:
    """A fake resolver + connector. The connector records (ip, port) and serves canned HTTP responses over a
    socketpair. ``dns`` maps a name to its addresses, or to a list of successive answers (a name that answers
    differently the second time: DNS rebinding). ``responses`` maps ip → list of raw responses (one per
    connection); an ip not in it gets the next of ``answers`` (default :func:`ok`) when ``answers`` is given,
    else the connection is refused."""

    def __init__(self, dns: dict[str, list[str]] | dict[str, list[list[str]]] | None = None,
                 responses: dict[str, list[bytes]] | None = None, answers: list[bytes] | None = None) -> None:
        self.dns = {k: list(v) for k, v in (dns or {}).items()}
        self.responses = responses or {}
        self.answers = answers
        self.resolved: list[str] = []
        self.connected: list[tuple[str, int]] = []
        self.requests: list[bytes] = []

    @property
    def ips(self) -> list[str]:
        """The addresses connected to, in order."""
        return [ip for ip, _ in self.connected]

    def resolve(self, host: str, port: int, timeout: float) -> list[str]:
        self.resolved.append(host)
        seq = self.dns.get(host)
        if not seq:
            raise socket.gaierror(-2, "Name or service not known")
        if isinstance(seq[0], list):  # successive answers; the last one stays
            return list(seq.pop(0) if len(seq) > 1 else seq[0])  # type: ignore[arg-type]
        return list(seq)  # type: ignore[arg-type]

    def connect(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.connected.append((ip, port))
        queue = self.responses.get(ip)
        if queue:
            raw = queue.pop(0)
        elif self.answers is not None:
            raw = self.answers.pop(0) if self.answers else ok()
        else:
            raise ConnectionRefusedError(111, "Connection refused")
        a, b = socket.socketpair()

        def serve() -> None:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = b.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.requests.append(data)
            b.sendall(raw)
            b.close()

        threading.Thread(target=serve, daemon=True).start()
        return a


def ok(body: bytes = IMAGE, extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode() + body


def redirect(location: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode()


def fetch(url: str, net: FakeNet, **kw):  # type: ignore[no-untyped-def]
    return urlfetch.fetch(url, resolver=net.resolve, connector=net.connect, **kw)


REFUSED = [
    "127.0.0.1", "127.5.6.7", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "169.254.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "192.0.0.8", "198.18.0.1", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "2002:7f00:1::1", "64:ff9b::a9fe:a9fe",
    "2001:db8::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "151.101.1.69"]


@pytest.mark.parametrize("ip", REFUSED)
def test_private_and_special_addresses_refused_by_name(ip: str) -> None:
    net = FakeNet({"images.example.com": [ip]}, {ip: [ok()]})
    with pytest.raises(ApiError) as e:
        fetch("http://images.example.com/a.png", net)
    assert e.value.code == "failed_image_download"
    assert "refused address" in (e.value.detail or "")
    assert net.connected == []  # never connected


@pytest.mark.parametrize("ip", REFUSED)
def test_private_and_special_addresses_refused_as_literals(ip: str) -> None:
    net = FakeNet({}, {ip: [ok()]})
    host = f"[{ip}]" if ":" in ip else ip
    with pytest.raises(ApiError) as e:
        fetch(f"http://{host}/a.png", net, which="bg")
    assert e.value.code == "failed_bg_download"
    assert net.connected == [] and net.resolved == []


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "017700000001",
                                  "0251.0376.0251.0376", "2852039166"])
def test_numeric_spellings_of_internal_addresses(host: str) -> None:
    net = FakeNet({}, {})
    with pytest.raises(ApiError) as e:
        fetch(f"http://{host}/", net)
    assert e.value.code == "failed_image_download"
    assert net.connected == [] and net.resolved == []  # parsed locally, never handed to DNS


@pytest.mark.parametrize("ip", PUBLIC)
def test_public_addresses_allowed_and_pinned(ip: str) -> None:
    net = FakeNet({"cdn.example.com": [ip]}, {ip: [ok()]})
    assert fetch("http://cdn.example.com:8080/p/a.png?x=1", net) == IMAGE
    assert net.connected == [(ip, 8080)]
    assert net.resolved == ["cdn.example.com"]  # resolved once; the connection used that address
    req = net.requests[0]
    assert req.startswith(b"GET /p/a.png?x=1 HTTP/1.1\r\n")
    assert b"Host: cdn.example.com:8080\r\n" in req


def test_mixed_answers_use_the_public_address() -> None:
    net = FakeNet({"x.example.com": ["10.0.0.5", "93.184.216.34"]}, {"93.184.216.34": [ok()]})
    assert fetch("http://x.example.com/", net) == IMAGE
    assert net.connected == [("93.184.216.34", 80)]


def test_redirect_to_private_address_refused() -> None:
    net = FakeNet({"a.example.com": ["93.184.216.34"], "internal.example.com": ["192.168.0.10"]},
                  {"93.184.216.34": [redirect("http://internal.example.com/secret")], "192.168.0.10": [ok()]})
    with pytest.raises(ApiError) as e:
        fetch("http://a.example.com/", net)
    assert "refused address" in (e.value.detail or "")
    assert net.connected == [("93.184.216.34", 80)]
    net = FakeNet({"a.example.com": ["93.184.216.34"]},
                  {"93.184.216.34": [redirect("http://169.254.169.254/latest/meta-data/")]})
    with pytest.raises(ApiError):
        fetch("http://a.example.com/", net)
    assert net.connected == [("93.184.216.34", 80)]


def test_redirects_followed_up_to_five() -> None:
    ip = "93.184.216.34"
    net = FakeNet({"a.example.com": [ip]}, {ip: [redirect(f"/r{i}") for i in range(5)] + [ok()]})
    assert fetch("http://a.example.com/", net) == IMAGE
    net = FakeNet({"a.example.com": [ip]}, {ip: [redirect(f"/r{i}") for i in range(6)] + [ok()]})
    with pytest.raises(ApiError) as e:
        fetch("http://a.example.com/", net)
    assert "redirects" in (e.value.detail or "")


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "gopher://example.com/",
                                 "javascript:alert(1)", "data:image/png;base64,AAAA", "//example.com/a.png",
                                 "http://", "http://exa mple.com/", "http://example.com:99999/",
                                 "dict://127.0.0.1:11211/"])
def test_bad_urls(url: str) -> None:
    net = FakeNet({}, {})
    with pytest.raises(ApiError) as e:
        fetch(url, net)
    assert e.value.code == "invalid_image_url"
    with pytest.raises(ApiError) as e:
        fetch(url, net, which="bg")
    assert e.value.code == "invalid_bg_image_url"
    assert net.connected == []


def test_http_errors_and_sizes() -> None:
    ip = "93.184.216.34"
    cases = [
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "HTTP Status 404"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", "HTTP Status 500"),
        (ok(b"", ""), "empty body"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\nxx", "too large"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed before"),  # lying Content-Length
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 5000, "too large"),  # no length, endless-ish stream past the cap
        (b"garbage\r\n\r\n", "invalid HTTP response"),
    ]
    for raw, detail in cases:
        net = FakeNet({"a.example.com": [ip]}, {ip: [raw]})
        with pytest.raises(ApiError) as e:
            fetch("http://a.example.com/", net, max_bytes=1000)
        assert detail in (e.value.detail or ""), (raw[:40], e.value.detail)
        assert e.value.code == "failed_image_download"


def test_unresolvable_and_refused_connection() -> None:
    with pytest.raises(ApiError) as e:
        fetch("http://nowhere.example.com/", FakeNet({}, {}))
    assert "could not resolve" in (e.value.detail or "")
    with pytest.raises(ApiError) as e:
        fetch("http://a.example.com/", FakeNet({"a.example.com": ["93.184.216.34"]}, {}))
    assert "could not connect" in (e.value.detail or "")


def test_allow_private_switch() -> None:
    net = FakeNet({"box.local": ["192.168.1.20"]}, {"192.168.1.20": [ok()]})
    assert fetch("http://box.local/", net, allow_private=True) == IMAGE


def test_stalling_server_hits_total_deadline() -> None:
    """A server that sends headers and then a byte at a time stays within the total deadline."""
    ip = "93.184.216.34"

    class Slow(FakeNet):
        def connect(self, ip: str, port: int, timeout: float) -> socket.socket:
            a, b = socket.socketpair()

            def serve() -> None:
                b.recv(65536)
                b.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                try:
                    for _ in range(100):
                        time.sleep(0.2)
                        b.sendall(b"x")
                except OSError:
                    pass

            threading.Thread(target=serve, daemon=True).start()
            return a

    t0 = time.monotonic()
    with pytest.raises(ApiError) as e:
        net = Slow({"a.example.com": [ip]})
        urlfetch.fetch("http://a.example.com/", resolver=net.resolve, connector=net.connect, total_timeout=1.0,
                       read_timeout=0.5)
    assert time.monotonic() - t0 < 2.5
    assert "timed out" in (e.value.detail or "")


# ----------------------------------------------------------------------------- live, loopback only
def test_live_loopback_refused_without_allow_private(alt_server, image_host) -> None:  # type: ignore[no-untyped-def]
    """alt_server runs with OPENBG_ALLOW_PRIVATE_URLS=0: loopback forms are refused (nothing leaves the host:
    every target is a loopback/unspecified address, refused before connecting)."""
    key = alt_server.create_key("guard", credits=1)
    port = image_host.port
    for url in (f"http://127.0.0.1:{port}/img.jpg", f"http://127.0.0.2:{port}/img.jpg",
                f"http://[::1]:{port}/img.jpg", f"http://0.0.0.0:{port}/img.jpg", f"http://2130706433:{port}/",
                f"http://0177.0.0.1:{port}/", f"http://localhost:{port}/img.jpg"):
        hits = len(image_host.hits)
        r = httpx.post(f"{alt_server.base_url}/removebg", headers={"X-Api-Key": key}, data={"image_url": url},
                       timeout=30)
        assert r.status_code == 400 and error_code(r) == "failed_image_download", (url, r.text)
        assert "refused" in r.json()["errors"][0]["detail"]
        assert len(image_host.hits) == hits
    assert alt_server.key_info(key).credits == 1


def test_live_fetch_limits(live_server, image_host, jpeg) -> None:  # type: ignore[no-untyped-def]
    """On the test server (private URLs allowed): redirects, 404, stalls and oversize bodies on loopback."""
    key = live_server.create_key("fetch-limits", credits=2)
    h = {"X-Api-Key": key}
    image_host.routes["/r1"] = (302, {"Location": "/img.jpg"}, b"")
    image_host.routes["/big"] = (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8" + b"\0" * (22 * 1024 * 1024 + 5))
    image_host.routes["/liar"] = (200, {"Content-Length": "99999999"}, b"\xff\xd8\xff")
    image_host.routes["/html"] = (200, {"Content-Type": "text/html"}, b"<html>not an image</html>")
    for i in range(7):
        image_host.routes[f"/loop{i}"] = (302, {"Location": f"/loop{i + 1}"}, b"")
    url = f"{live_server.base_url}/removebg"
    r = httpx.post(url, headers=h, data={"image_url": image_host.url("/r1")}, timeout=60)
    assert r.status_code == 200, r.text
    for path, code, detail in (("/loop0", "failed_image_download", "redirects"),
                               ("/missing", "failed_image_download", "404"),
                               ("/big", "failed_image_download", "too large"),
                               ("/liar", "failed_image_download", "too large"),
                               ("/html", "invalid_file_type", "")):
        r = httpx.post(url, headers=h, data={"image_url": image_host.url(path)}, timeout=60)
        assert r.status_code == 400 and error_code(r) == code, (path, r.text)
        assert detail in r.json()["errors"][0].get("detail", ""), (path, r.text)
    assert live_server.alive()


def test_loopback_only_mode_never_resolves_names() -> None:
    """OPENBG_FETCH_LOOPBACK_ONLY (used by every test server): names are never resolved, public IPs refused."""
    net = FakeNet({"cdn.example.com": ["93.184.216.34"]}, {"93.184.216.34": [ok()], "127.0.0.1": [ok()]})
    for url in ("http://cdn.example.com/a.png", "https://www.remove.bg/example.jpg", "http://93.184.216.34/"):
        with pytest.raises(ApiError) as e:
            fetch(url, net, allow_private=True, loopback_only=True)
        assert "refused" in (e.value.detail or "")
    assert net.resolved == [] and net.connected == []
    assert fetch("http://localhost:8080/a.png", net, allow_private=True, loopback_only=True) == IMAGE
    assert net.resolved == [] and net.connected == [("127.0.0.1", 8080)]


# --------------------------------------------------------------------------- range boundaries, metadata, rebinding
# (address, allowed with the guard on)
BOUNDARIES = [
    ("9.255.255.255", True), ("10.0.0.0", False), ("10.255.255.255", False), ("11.0.0.0", True),
    ("172.15.255.255", True), ("172.16.0.0", False), ("172.31.255.255", False), ("172.32.0.0", True),
    ("192.167.255.255", True), ("192.168.0.0", False), ("192.168.255.255", False), ("192.169.0.0", True),
    ("169.253.255.255", True), ("169.254.0.0", False), ("169.254.169.254", False), ("169.254.255.255", False),
    ("169.255.0.0", True), ("100.63.255.255", True), ("100.64.0.0", False), ("100.100.100.200", False),
    ("100.127.255.255", False), ("100.128.0.0", True), ("126.255.255.255", True), ("127.0.0.0", False),
    ("127.255.255.255", False), ("128.0.0.0", True), ("223.255.255.255", True), ("224.0.0.0", False),
    ("240.0.0.1", False), ("255.255.255.255", False), ("0.0.0.0", False), ("0.1.2.3", False),
    ("fd00:ec2::254", False), ("fe80::a9fe:a9fe", False), ("::ffff:169.254.169.254", False),
    ("::ffff:10.1.2.3", False), ("64:ff9b::7f00:1", False), ("2002:a9fe:a9fe::1", False),
    ("2001:4860:4860::8888", True),
    ("::ffff:8.8.8.8", False),  # IPv4-mapped: refused whatever it maps to (conservative; no real AAAA answer)
]


@pytest.mark.parametrize("ip,allowed", BOUNDARIES, ids=[b[0] for b in BOUNDARIES])
def test_address_decisions_by_name(ip: str, allowed: bool) -> None:
    fake = FakeNet({"img.example.com": [[ip]]}, answers=[])
    if allowed:
        assert fetch("http://img.example.com/a.png", fake) == IMAGE
        assert fake.ips == [ip]
    else:
        with pytest.raises(ApiError) as e:
            fetch("http://img.example.com/a.png", fake)
        assert e.value.code == "failed_image_download"
        assert fake.ips == []  # refused before any connection


@pytest.mark.parametrize("name", ["metadata.google.internal", "metadata", "instance-data.ec2.internal"])
def test_cloud_metadata_names_refused(name: str) -> None:
    fake = FakeNet({name: [["169.254.169.254"]]}, answers=[])
    with pytest.raises(ApiError):
        fetch(f"http://{name}/computeMetadata/v1/", fake)
    assert fake.ips == []


LOOPBACK_TARGETS = ["http://127.0.0.1/x", "http://127.8.9.10:8080/x", "http://[::1]/x", "http://0.0.0.0/x",
                    "http://2130706433/x", "http://0177.0.0.1/x", "http://0x7f.1/x", "http://[::ffff:7f00:1]/x",
                    "http://localhost/x", "http://LocalHost./x", "http://rebind.example.net/x"]


@pytest.mark.parametrize("target", LOOPBACK_TARGETS)
def test_redirect_from_public_host_to_loopback_refused(target: str) -> None:
    fake = FakeNet({"img.example.com": ["93.184.216.34"], "localhost": ["127.0.0.1"],
                    "rebind.example.net": ["127.0.0.1"]}, answers=[redirect(target)])
    with pytest.raises(ApiError) as e:
        fetch("http://img.example.com/a.png", fake)
    assert e.value.code == "failed_image_download"
    assert fake.ips == ["93.184.216.34"]  # the first hop only


def test_dns_rebinding_pinned() -> None:
    """A name answering public, then loopback: the connection goes to the address that was checked, and the
    second lookup (after a redirect to the same name) is checked again and refused."""
    fake = FakeNet({"flip.example.com": [["93.184.216.34"], ["127.0.0.1"]]}, answers=[redirect("/again")])
    with pytest.raises(ApiError):
        fetch("http://flip.example.com/a.png", fake)
    assert fake.ips == ["93.184.216.34"]
    assert fake.resolved == ["flip.example.com", "flip.example.com"]


def test_mixed_answer_with_only_internal_addresses_refused() -> None:
    fake = FakeNet({"multi.example.com": [["10.0.0.1", "127.0.0.1", "169.254.169.254"]]}, answers=[])
    with pytest.raises(ApiError):
        fetch("http://multi.example.com/", fake)
    assert fake.ips == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://127.0.0.1/x",
                                 "dict://127.0.0.1:11211/stat", "ldap://127.0.0.1/", "jar:http://a/b!/c",
                                 "http:///nohost", "http://:80/"])
def test_schemes_refused_even_when_private_allowed(url: str) -> None:
    fake = FakeNet()
    with pytest.raises(ApiError) as e:
        fetch(url, fake, allow_private=True)
    assert e.value.code == "invalid_image_url"
    assert fake.ips == [] and fake.resolved == []


# (address, allowed with private URLs allowed): OPENBG_ALLOW_PRIVATE_URLS opens loopback and the private
# ranges, never link-local, the cloud metadata endpoints, multicast, "this network" or broadcast
PRIVATE_ALLOWED = [
    ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.20", True), ("100.64.0.1", True),
    ("::1", True), ("fd12:3456::1", True), ("::ffff:192.168.1.20", True),
    ("169.254.169.254", False), ("169.254.0.1", False), ("100.100.100.200", False), ("fd00:ec2::254", False),
    ("fe80::1", False), ("fe80::a9fe:a9fe", False), ("::ffff:169.254.169.254", False), ("2002:a9fe:a9fe::1", False),
    ("0.0.0.0", False), ("0.1.2.3", False), ("::", False), ("224.0.0.1", False), ("ff02::1", False),
    ("240.0.0.1", False), ("255.255.255.255", False),
]


@pytest.mark.parametrize("ip,allowed", PRIVATE_ALLOWED, ids=[p[0] for p in PRIVATE_ALLOWED])
def test_private_urls_allowed_never_opens_metadata_or_link_local(ip: str, allowed: bool) -> None:
    fake = FakeNet({"img.example.com": [[ip]]}, answers=[])
    if allowed:
        assert fetch("http://img.example.com/a.png", fake, allow_private=True) == IMAGE
        assert [ipaddress.ip_address(a) for a in fake.ips] == [ipaddress.ip_address(ip)]
    else:
        with pytest.raises(ApiError) as e:
            fetch("http://img.example.com/a.png", fake, allow_private=True)
        assert e.value.code == "failed_image_download"
        assert "even with private URLs allowed" in (e.value.detail or "")
        assert fake.ips == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25eth0]/x",
                                 "http://[::ffff:a9fe:a9fe]/x", "http://2852039166/x", "http://0251.0376.0251.0376/x"])
def test_metadata_literals_refused_with_private_urls_allowed(url: str) -> None:
    fake = FakeNet()
    with pytest.raises(ApiError):
        fetch(url, fake, allow_private=True)
    assert fake.ips == [] and fake.resolved == []


def test_redirect_from_private_host_to_metadata_refused() -> None:
    fake = FakeNet({"box.lan": [["192.168.1.20"]]}, answers=[redirect("http://169.254.169.254/latest/meta-data/")])
    with pytest.raises(ApiError) as e:
        fetch("http://box.lan/a.png", fake, allow_private=True)
    assert e.value.code == "failed_image_download"
    assert fake.ips == ["192.168.1.20"]  # the first hop only
