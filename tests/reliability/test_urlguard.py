"""The image_url guard's decisions with name resolution and connection REPLACED BY FAKES (issue 9).

Nothing here opens a network socket: the fake connector answers from a ``socket.socketpair()``, and the fake
resolver is a dict. Complements tests/emulator/test_urlfetch_guard.py with range boundaries (the first and
last address of each refused block and their public neighbours), cloud-metadata endpoints, redirects from an
allowed host to every loopback spelling, and DNS rebinding (a name that answers public first, loopback next).
"""

from __future__ import annotations

import inspect
import ipaddress
import socket
import threading

import pytest
from openbg_emulator import urlfetch
from openbg_emulator.errors import ApiError

BODY = b"\x89PNG\r\n\x1a\n fake"


def ok() -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY


def redirect(to: str) -> bytes:
    return f"HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n".encode()


class Fake:
    def __init__(self, dns: dict[str, list[list[str]]] | None = None, answers: list[bytes] | None = None) -> None:
        self.dns = {k: list(v) for k, v in (dns or {}).items()}  # host -> successive answers
        self.answers = list(answers or [])
        self.resolved: list[str] = []
        self.connected: list[str] = []

    def resolve(self, host: str, port: int, timeout: float) -> list[str]:
        self.resolved.append(host)
        seq = self.dns.get(host)
        if not seq:
            raise socket.gaierror(-2, "Name or service not known")
        return seq.pop(0) if len(seq) > 1 else seq[0]

    def connect(self, ip: str, port: int, timeout: float) -> socket.socket:
        self.connected.append(ip)
        raw = self.answers.pop(0) if self.answers else ok()
        a, b = socket.socketpair()

        def serve() -> None:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = b.recv(4096)
                if not chunk:
                    break
                data += chunk
            b.sendall(raw)
            b.close()

        threading.Thread(target=serve, daemon=True).start()
        return a


def fetch(url: str, fake: Fake, **kw: object) -> bytes:
    return urlfetch.fetch(url, resolver=fake.resolve, connector=fake.connect, total_timeout=5, **kw)  # type: ignore[arg-type]


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
    fake = Fake({"img.example.com": [[ip]]})
    if allowed:
        assert fetch("http://img.example.com/a.png", fake) == BODY
        assert fake.connected == [ip]
    else:
        with pytest.raises(ApiError) as e:
            fetch("http://img.example.com/a.png", fake)
        assert e.value.code == "failed_image_download"
        assert fake.connected == []  # refused before any connection


@pytest.mark.parametrize("name", ["metadata.google.internal", "metadata", "instance-data.ec2.internal"])
def test_cloud_metadata_names_refused(name: str) -> None:
    fake = Fake({name: [["169.254.169.254"]]})
    with pytest.raises(ApiError):
        fetch(f"http://{name}/computeMetadata/v1/", fake)
    assert fake.connected == []


LOOPBACK_TARGETS = ["http://127.0.0.1/x", "http://127.8.9.10:8080/x", "http://[::1]/x", "http://0.0.0.0/x",
                    "http://2130706433/x", "http://0177.0.0.1/x", "http://0x7f.1/x", "http://[::ffff:7f00:1]/x",
                    "http://localhost/x", "http://LocalHost./x", "http://rebind.example.net/x"]


@pytest.mark.parametrize("target", LOOPBACK_TARGETS)
def test_redirect_from_public_host_to_loopback_refused(target: str) -> None:
    fake = Fake({"img.example.com": [["93.184.216.34"]], "localhost": [["127.0.0.1"]],
                 "rebind.example.net": [["127.0.0.1"]]}, [redirect(target)])
    with pytest.raises(ApiError) as e:
        fetch("http://img.example.com/a.png", fake)
    assert e.value.code == "failed_image_download"
    assert fake.connected == ["93.184.216.34"]  # the first hop only


def test_dns_rebinding_pinned() -> None:
    """A name answering public, then loopback: the connection goes to the address that was checked, and the
    second lookup (after a redirect to the same name) is checked again and refused."""
    fake = Fake({"flip.example.com": [["93.184.216.34"], ["127.0.0.1"]]}, [redirect("/again")])
    with pytest.raises(ApiError):
        fetch("http://flip.example.com/a.png", fake)
    assert fake.connected == ["93.184.216.34"]
    assert fake.resolved == ["flip.example.com", "flip.example.com"]


def test_mixed_answer_with_only_internal_addresses_refused() -> None:
    fake = Fake({"multi.example.com": [["10.0.0.1", "127.0.0.1", "169.254.169.254"]]})
    with pytest.raises(ApiError):
        fetch("http://multi.example.com/", fake)
    assert fake.connected == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://127.0.0.1/x",
                                 "dict://127.0.0.1:11211/stat", "ldap://127.0.0.1/", "jar:http://a/b!/c",
                                 "http:///nohost", "http://:80/"])
def test_schemes_refused_even_when_private_allowed(url: str) -> None:
    fake = Fake()
    with pytest.raises(ApiError) as e:
        fetch(url, fake, allow_private=True)
    assert e.value.code == "invalid_image_url"
    assert fake.connected == [] and fake.resolved == []


def test_loopback_only_mode_never_resolves() -> None:
    if "loopback_only" not in inspect.signature(urlfetch.fetch).parameters:
        pytest.skip("urlfetch has no loopback_only mode")
    fake = Fake({"img.example.com": [["93.184.216.34"]]})
    with pytest.raises(ApiError):
        fetch("http://img.example.com/a.png", fake, allow_private=True, loopback_only=True)
    assert fake.resolved == [] and fake.connected == []
    assert fetch("http://127.0.0.1:8000/a.png", fake, allow_private=True, loopback_only=True) == BODY
    assert fake.connected == ["127.0.0.1"]


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
    fake = Fake({"img.example.com": [[ip]]})
    if allowed:
        assert fetch("http://img.example.com/a.png", fake, allow_private=True) == BODY
        assert [ipaddress.ip_address(a) for a in fake.connected] == [ipaddress.ip_address(ip)]
    else:
        with pytest.raises(ApiError) as e:
            fetch("http://img.example.com/a.png", fake, allow_private=True)
        assert e.value.code == "failed_image_download"
        assert "even with private URLs allowed" in (e.value.detail or "")
        assert fake.connected == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1%25eth0]/x",
                                 "http://[::ffff:a9fe:a9fe]/x", "http://2852039166/x", "http://0251.0376.0251.0376/x"])
def test_metadata_literals_refused_with_private_urls_allowed(url: str) -> None:
    fake = Fake()
    with pytest.raises(ApiError):
        fetch(url, fake, allow_private=True)
    assert fake.connected == [] and fake.resolved == []


def test_redirect_from_private_host_to_metadata_refused() -> None:
    fake = Fake({"box.lan": [["192.168.1.20"]]}, [redirect("http://169.254.169.254/latest/meta-data/")])
    with pytest.raises(ApiError) as e:
        fetch("http://box.lan/a.png", fake, allow_private=True)
    assert e.value.code == "failed_image_download"
    assert fake.connected == ["192.168.1.20"]  # the first hop only
