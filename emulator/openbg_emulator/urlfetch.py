"""Guarded download of ``image_url`` / ``bg_image_url`` (no HTTP server code here; a client only).

Defences (issue 9; imgproxy-style):

* only ``http`` and ``https`` URLs (anything else → ``invalid_image_url`` / ``invalid_bg_image_url``);
* the host is resolved once and the address is checked: loopback, private, link-local (incl. the cloud
  metadata address 169.254.169.254), shared, reserved, multicast, unspecified and documentation addresses are
  refused, also in IPv4-mapped / 6to4 / NAT64 / Teredo IPv6 forms and in the legacy numeric spellings
  (``2130706433``, ``0177.0.0.1``, ``0x7f.1``) — unless ``allow_private`` (``OPENBG_ALLOW_PRIVATE_URLS=1``),
  which opens loopback and private ranges but never link-local, the cloud metadata endpoints, multicast,
  unspecified or broadcast addresses (:func:`is_never_allowed`: an image server on the LAN does not make the
  instance metadata reachable);
* the connection goes to the validated address (pinned: no second DNS lookup, so no DNS rebinding); the
  ``Host`` header and TLS SNI/certificate check use the URL's host name;
* every redirect (at most 5) is validated again from scratch;
* ``loopback_only`` (``OPENBG_FETCH_LOOPBACK_ONLY=1``, set by the test fixtures): only loopback IP literals and
  ``localhost`` are fetched, and no name is ever resolved, so a test run can never send traffic off the host;
* connect and read timeouts plus a total deadline; the body is capped (22 MB by default) while streaming,
  whatever Content-Length says.

Failures raise :class:`~openbg_emulator.errors.ApiError` ``failed_image_download`` / ``failed_bg_download``
with a detail (HTTP status, timeout, too large, refused address).

For tests, name resolution (``resolver``) and connection (``connector``) are injectable, so the guard's
decisions on any address can be checked with fakes and without connecting anywhere.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from openbg_emulator.errors import ApiError

Resolver = Callable[[str, int, float], list[str]]  # (host, port, timeout) -> IP address strings
Connector = Callable[[str, int, float], socket.socket]  # (ip, port, timeout) -> connected socket

MAX_REDIRECTS = 5
MAX_URL_LENGTH = 4096
USER_AGENT = "openbg-emulator/0.1 (+https://github.com/openbg)"
_REDIRECTS = {301, 302, 303, 307, 308}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose ranges (IANA registries) refused on top of what ``ipaddress`` flags as not global.
_DENY = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8",
)]
# Refused even with private URLs allowed: link-local (incl. 169.254.169.254), the cloud metadata endpoints
# outside it (AWS IPv6 IMDS, Alibaba Cloud), "this network", multicast and the reserved/broadcast block.
_NEVER = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "169.254.0.0/16", "100.100.100.200/32", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "fe80::/10", "fd00:ec2::254/128", "ff00::/8",
)]
_LEGACY_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _codes(which: str) -> tuple[str, str, str]:
    if which == "bg":
        return "invalid_bg_image_url", "failed_bg_download", "bg_image_url"
    return "invalid_image_url", "failed_image_download", "image_url"


# ----------------------------------------------------------------------------- address policy
def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible (deprecated) ::a.b.c.d
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True when a download may connect to ``ip`` with the guard on."""
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _embedded_v4(ip)
        if v4 is not None and not is_public_address(v4):
            return False
        if ip.scope_id:
            return False
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return False
    if ip.is_private or ip.is_reserved:
        return False
    if any(ip.version == n.version and ip in n for n in _DENY):
        return False
    return bool(ip.is_global)


def is_never_allowed(ip: IPAddress) -> bool:
    """True for addresses no download connects to, even with private URLs allowed (see :data:`_NEVER`)."""
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _embedded_v4(ip)
        if v4 is not None and is_never_allowed(v4):
            return True
        if ip.scope_id:  # a zone index: only link-local addresses carry one
            return True
    return any(ip.version == n.version and ip in n for n in _NEVER)


def parse_ip_literal(host: str) -> IPAddress | None:
    """An IP address written in the host part, including legacy numeric IPv4 spellings; else None."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if _LEGACY_NUMERIC.match(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h.rstrip(".")))
        except (OSError, ValueError):
            return None
    return None


def system_resolver(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo in a helper thread, bounded by ``timeout``."""
    out: list[str] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
                addr = str(info[4][0])
                if addr not in out:
                    out.append(addr)
        except BaseException as e:  # noqa: BLE001 - reported to the caller
            err.append(e)

    t = threading.Thread(target=run, daemon=True, name="openbg-resolve")
    t.start()
    t.join(max(0.1, timeout))
    if t.is_alive():
        raise TimeoutError("name resolution timed out")
    if err:
        raise err[0]
    return out


def system_connector(ip: str, port: int, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.settimeout(max(0.05, timeout))
        s.connect((ip, port))
    except BaseException:
        s.close()
        raise
    return s


# ----------------------------------------------------------------------------- the fetch
class _Fail(Exception):
    def __init__(self, detail: str, invalid: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.invalid = invalid


def _check_url(url: str) -> tuple[str, str, int, str]:
    if len(url) > MAX_URL_LENGTH:
        raise _Fail("URL too long", invalid=True)
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise _Fail("URL contains spaces or control characters", invalid=True)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise _Fail(f"malformed URL ({e})", invalid=True) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _Fail(f"scheme {scheme or '(none)'!s} is not allowed; use http or https", invalid=True)
    host = parts.hostname or ""
    if not host:
        raise _Fail("URL has no host", invalid=True)
    if port is None:
        port = 443 if scheme == "https" else 80
    if port == 0:
        raise _Fail("port 0 is not allowed", invalid=True)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path


def _pick_address(host: str, port: int, allow_private: bool, resolver: Resolver, timeout: float,
                  loopback_only: bool = False) -> str:
    lit = parse_ip_literal(host)
    if lit is None and loopback_only and host.lower().rstrip(".") == "localhost":
        lit = ipaddress.IPv4Address("127.0.0.1")
    if loopback_only:
        # Test mode: nothing may leave the machine, not even a DNS query.
        if lit is None:
            raise _Fail(f"refused host {host}: only loopback addresses may be fetched (OPENBG_FETCH_LOOPBACK_ONLY)")
        if not lit.is_loopback:
            raise _Fail(f"refused address {lit}: only loopback addresses may be fetched (OPENBG_FETCH_LOOPBACK_ONLY)")
    if lit is not None:
        candidates: list[IPAddress] = [lit]
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _Fail("host name is not valid", invalid=True) from None
        try:
            addrs = resolver(ascii_host, port, timeout)
        except TimeoutError:
            raise _Fail(f"could not resolve host {host}: timed out") from None
        except OSError as e:
            raise _Fail(f"could not resolve host {host}: {e.strerror or e}") from None
        candidates = []
        for a in addrs:
            try:
                candidates.append(ipaddress.ip_address(a.split("%", 1)[0]))
            except ValueError:
                continue
        if not candidates:
            raise _Fail(f"could not resolve host {host}")
    for ip in candidates:
        if is_public_address(ip) or (allow_private and not is_never_allowed(ip)):
            return str(ip)
    if allow_private:
        raise _Fail(f"refused address {candidates[0]} for host {host} (link-local, cloud metadata, multicast or "
                    "reserved: refused even with private URLs allowed)")
    if not is_never_allowed(candidates[0]):  # loopback or private: the operator may open these
        raise _Fail(f"refused address {candidates[0]} for host {host} (loopback or private network); the "
                    "server's operator can allow such addresses with OPENBG_ALLOW_PRIVATE_URLS=1")
    raise _Fail(f"refused address {candidates[0]} for host {host} (loopback, private, link-local or reserved)")


def fetch(
    url: str,
    *,
    which: str = "image",
    allow_private: bool = False,
    max_bytes: int = 22 * 1024 * 1024,
    total_timeout: float = 15.0,
    connect_timeout: float = 5.0,
    read_timeout: float = 10.0,
    max_redirects: int = MAX_REDIRECTS,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
    tls_context: ssl.SSLContext | None = None,
    clock: Callable[[], float] = time.monotonic,
    loopback_only: bool = False,
) -> bytes:
    """Download ``url`` with every guard on; raise ApiError (``which`` = "image" or "bg")."""
    invalid_code, failed_code, param = _codes(which)
    resolver = resolver or system_resolver
    connector = connector or system_connector
    deadline = clock() + total_timeout
    current = url
    try:
        for hop in range(max_redirects + 1):
            scheme, host, port, path = _check_url(current)
            remaining = deadline - clock()
            if remaining <= 0:
                raise _Fail(f"timed out after {total_timeout:g} s")
            ip = _pick_address(host, port, allow_private, resolver, min(connect_timeout, remaining), loopback_only)
            status, location, body = _get_once(
                scheme, host, port, path, ip, connector, tls_context, deadline, connect_timeout, read_timeout,
                max_bytes, total_timeout, clock,
            )
            if status in _REDIRECTS and location:
                if hop == max_redirects:
                    raise _Fail(f"more than {max_redirects} redirects")
                current = urljoin(current, location)
                continue
            if not 200 <= status < 300:
                raise _Fail(f"HTTP Status {status}")
            if not body:
                raise _Fail("the server sent an empty body")
            return body
        raise _Fail(f"more than {max_redirects} redirects")  # pragma: no cover - loop always returns/raises
    except _Fail as f:
        if f.invalid:
            raise ApiError(invalid_code, detail=f"{param}: {f.detail}") from None
        raise ApiError(failed_code, detail=f"{param}: {f.detail}") from None


def _get_once(
    scheme: str, host: str, port: int, path: str, ip: str, connector: Connector,
    tls_context: ssl.SSLContext | None, deadline: float, connect_timeout: float, read_timeout: float,
    max_bytes: int, total_timeout: float, clock: Callable[[], float],
) -> tuple[int, str | None, bytes]:
    def left() -> float:
        r = deadline - clock()
        if r <= 0:
            raise _Fail(f"timed out after {total_timeout:g} s")
        return r

    sock: socket.socket | None = None
    conn: http.client.HTTPConnection | None = None
    try:
        try:
            sock = connector(ip, port, min(connect_timeout, left()))
        except TimeoutError:
            raise _Fail(f"connecting to {host} timed out") from None
        except OSError as e:
            raise _Fail(f"could not connect to {host}: {e.strerror or e}") from None
        if scheme == "https":
            ctx = tls_context or ssl.create_default_context()
            try:
                sock.settimeout(min(read_timeout, left()))
                sock = ctx.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, ssl.CertificateError) as e:
                raise _Fail(f"TLS error with {host}: {e}") from None
            except TimeoutError:
                raise _Fail(f"TLS handshake with {host} timed out") from None
            conn = http.client.HTTPSConnection(host, port, timeout=read_timeout)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=read_timeout)
        conn.sock = sock  # pinned: http.client uses this socket and never connects itself
        sock.settimeout(min(read_timeout, left()))
        conn.request("GET", path, headers={
            "User-Agent": USER_AGENT,
            "Accept": "image/*, */*;q=0.5",
            "Accept-Encoding": "identity",
            "Connection": "close",
        })
        resp = conn.getresponse()
        status = resp.status
        if status in _REDIRECTS:
            location = resp.getheader("Location")
            return status, location, b""
        if not 200 <= status < 300:
            return status, None, b""
        declared: int | None = None
        cl = resp.getheader("Content-Length")
        if cl is not None and cl.strip().isdigit():
            declared = int(cl.strip())
            if declared > max_bytes:
                raise _Fail(f"file too large: Content-Length {declared} exceeds {max_bytes} bytes")
        buf = bytearray()
        while True:
            sock.settimeout(min(read_timeout, left()))
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            buf.extend(chunk)
            if len(buf) > max_bytes:
                raise _Fail(f"file too large: more than {max_bytes} bytes")
        if declared is not None and len(buf) < declared:
            raise _Fail("the connection closed before the whole body arrived")
        return status, None, bytes(buf)
    except _Fail:
        raise
    except http.client.IncompleteRead:
        raise _Fail("the connection closed before the whole body arrived") from None
    except TimeoutError:
        raise _Fail("timed out while reading the response") from None
    except http.client.HTTPException as e:
        raise _Fail(f"invalid HTTP response ({type(e).__name__})") from None
    except ssl.SSLError as e:
        raise _Fail(f"TLS error: {e}") from None
    except OSError as e:
        raise _Fail(f"network error: {e.strerror or e}") from None
    finally:
        if conn is not None:
            conn.close()
        elif sock is not None:
            sock.close()
