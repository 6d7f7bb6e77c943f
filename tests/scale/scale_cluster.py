"""A real deployment on loopback for the tests and bench/scale.py: PostgreSQL 15 (Debian's binaries, run as
an unprivileged user from a temporary folder with initdb/pg_ctl), N ``openbg serve`` processes and nginx
(Debian's package, the configuration of deploy/nginx/openbg.conf rendered for loopback ports).

Nothing here is a stub: every piece is the real program, stopped and started as an operator would.
"""

from __future__ import annotations

import glob
import io
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from openbg.testing import wait_until_ready
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bindir() -> Path:
    """Debian's PostgreSQL 15 binaries (``make test`` installs the ``postgresql`` package)."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(d) / "initdb").exists():
            return Path(d)
    raise RuntimeError("PostgreSQL binaries not found under /usr/lib/postgresql (make test installs "
                       "the Debian package postgresql; or: apt-get install postgresql)")


def nginx_bin() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if path is None:
        raise RuntimeError("nginx not found (make test installs the Debian package nginx)")
    return path


class Postgres:
    """One PostgreSQL cluster in ``root`` on a loopback port. As root the server runs as the ``postgres``
    user (initdb refuses root); otherwise as the current user."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port or free_port()
        self.bindir = pg_bindir()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            root.mkdir(parents=True, exist_ok=True)
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for parent in [root, *root.parents]:  # the postgres user must reach its folder
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        else:
            root.mkdir(parents=True, exist_ok=True)
        self.log = root / "postgres.log"
        self.url = f"postgresql+psycopg://openbg@127.0.0.1:{self.port}/openbg"

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def init(self, preload: str = "", listen: tuple[str, ...] = (), trust: tuple[str, ...] = ()) -> Postgres:
        """``listen``: more addresses than 127.0.0.1; ``trust``: more client networks let in (CIDR)."""
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "openbg", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        if trust:
            with open(self.data / "pg_hba.conf", "a") as f:
                f.write("".join(f"host all all {net} trust\n" for net in trust))
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '{','.join(('127.0.0.1', *listen))}'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                    "fsync = on\nshared_buffers = 64MB\n")
            if preload:
                f.write(f"shared_preload_libraries = '{preload}'\n")
        self.start()
        self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "openbg", "openbg")
        return self

    def start(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)

    def psql(self, sql: str) -> str:
        r = self._run(str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "openbg",
                      "-d", "openbg", "-At", "-c", sql)
        return r.stdout.strip()


class Server:
    """One ``openbg serve`` process."""

    def __init__(self, root: Path, name: str, env: dict[str, str], port: int | None = None,
                 netns: Netns | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.netns = netns
        self.host = netns.ip if netns is not None else "127.0.0.1"
        self.address = f"{self.host}:{self.port}"  # what nginx's upstream lists
        self.root_url = f"http://{self.address}"
        self.log_path = root / f"{name}.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "openbg_emulator.server_cli", "serve", "--host", self.host,
               "--port", str(self.port), "--log-level", "info"]
        if self.netns is not None:  # `ip netns exec` execs the server itself: proc.pid is the server's pid
            cmd = ["ip", "netns", "exec", self.netns.name, *cmd]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)

    def wait_ready(self, timeout: float = 180) -> None:
        assert self.proc is not None
        wait_until_ready(self.root_url, self.proc, timeout, what=self.name, log_tail=self.log_tail)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self, "_log"):
            self._log.close()


def start_all(servers: list[Server]) -> None:
    """Start every server, then wait until each is ready (they load and warm up side by side)."""
    for s in servers:
        s.start()
    for s in servers:
        s.wait_ready()


class Netns:
    """A network namespace joined to this one by a veth pair, standing for another host: the server in it
    has its own network stack and reaches PostgreSQL and is reached by nginx over the veth link (host side
    ``host_ip``, namespace side ``ip``, a /30 of 10.233.0.0/16), never over loopback. Needs root (or
    CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2; :meth:`unavailable` says why not."""

    def __init__(self, index: int) -> None:
        tag = f"{os.getpid() % 10000}x{index}"
        self.name = f"openbg-{tag}"
        self.host_if, self.ns_if = f"obh{tag}", f"obn{tag}"  # interface names: at most 15 characters
        base = 4 * index
        self.net = f"10.233.{os.getpid() % 250}"
        self.host_ip, self.ip = f"{self.net}.{base + 1}", f"{self.net}.{base + 2}"

    @staticmethod
    def unavailable() -> str | None:
        if shutil.which("ip") is None:
            return "iproute2's ip is not installed"
        probe = f"openbg-probe-{os.getpid()}"
        r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
        if r.returncode != 0:
            return f"cannot create a network namespace: {r.stderr.strip()}"
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
        return None

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)

    def up(self) -> Netns:
        self._ip("netns", "add", self.name)
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self._ip("link", "set", self.ns_if, "netns", self.name)
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("-n", self.name, "addr", "add", f"{self.ip}/30", "dev", self.ns_if)
        self._ip("-n", self.name, "link", "set", self.ns_if, "up")
        self._ip("-n", self.name, "link", "set", "lo", "up")
        return self

    def down(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)


def render_nginx(template: Path, *, listen: str, upstreams: list[str], prefix: Path) -> str:
    """deploy/nginx/openbg.conf with the listen address and the upstream servers filled in, wrapped in the few
    top-level lines nginx needs to run unprivileged from ``prefix``."""
    conf = template.read_text()
    head, rest = conf.split("    # BEGIN SERVERS\n", 1)
    _, tail = rest.split("    # END SERVERS\n", 1)
    servers = "".join(f"    server {u} max_fails=1 fail_timeout=2s;\n" for u in upstreams)
    conf = (head + servers + tail).replace("listen 80;", f"listen {listen};")
    # as root, workers would run as "nobody" and could not write request bodies over 1 MiB to the temp folder
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{\n"
        f"  access_log {prefix}/access.log;\n  client_body_temp_path {prefix}/body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n  fastcgi_temp_path {prefix}/fastcgi;\n"
        f"  uwsgi_temp_path {prefix}/uwsgi;\n  scgi_temp_path {prefix}/scgi;\n"
        f"{conf}\n}}\n"
    )


class Nginx:
    def __init__(self, root: Path, upstreams: list[str], port: int | None = None) -> None:
        self.root = root / "nginx"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = self.root / "nginx.conf"
        self.conf.write_text(render_nginx(REPO / "deploy" / "nginx" / "openbg.conf",
                                          listen=f"127.0.0.1:{self.port}", upstreams=upstreams, prefix=self.root))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        subprocess.run([nginx_bin(), "-t", "-q", "-p", str(self.root), "-c", str(self.conf)], check=True,
                       capture_output=True, timeout=30)
        self._log = open(self.root / "stderr.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([nginx_bin(), "-p", str(self.root), "-c", str(self.conf)],
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self._log.close()


def server_env(state: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "OPENBG_STATE_DIR": str(state),
        "OPENBG_DATABASE_URL": database_url,
        "OPENBG_FETCH_LOOPBACK_ONLY": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def db_upgrade(env: dict[str, str]) -> str:
    r = subprocess.run([sys.executable, "-m", "openbg_emulator.server_cli", "db", "upgrade"], env=env, check=False,
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"openbg db upgrade failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def small_image(variant: int = 0, size: tuple[int, int] = (96, 72)) -> bytes:
    """A small PNG with an obvious subject (a red ellipse on light grey)."""
    w, h = size
    im = Image.new("RGB", size, (235, 235, 235))
    ImageDraw.Draw(im).ellipse((w * 0.3, h * 0.15, w * 0.7, h * 0.85), fill=(180, 40 + variant % 200, 40))
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


@dataclass
class Deployment:
    root: Path
    pg: Postgres
    servers: list[Server]
    nginx: Nginx
    env: dict[str, str]
    accounts: object = field(default=None)

    @property
    def url(self) -> str:
        return f"{self.nginx.url}/v1.0"

    def create_key(self, name: str, credits: float = 0, free_calls: int | None = 0,
                   rate_limit: int | None = 100000) -> tuple[str, str]:
        key, info = self.accounts.create_key(name, credits=credits, free_calls=free_calls,  # type: ignore[attr-defined]
                                             rate_limit=rate_limit)
        return key, info.id

    def balance(self, kid: str) -> float:
        return float(self.accounts.get(kid).credits)  # type: ignore[attr-defined]

    def ledger(self, kid: str) -> list[dict[str, object]]:
        return self.accounts.ledger_rows(kid)  # type: ignore[attr-defined,no-any-return]


def post_many(url: str, key: str, n: int, concurrency: int, image: bytes | None = None,
              size: str = "preview") -> list[httpx.Response]:
    img = image or small_image()

    def one(_i: int) -> httpx.Response:
        return httpx.post(f"{url}/removebg", headers={"X-Api-Key": key}, files={"image_file": img},
                          data={"size": size}, timeout=120)

    with ThreadPoolExecutor(concurrency) as ex:
        return list(ex.map(one, range(n)))


def wait_until(pred, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False
