#!/usr/bin/env python3
"""Install, start and stop local Neo4j Community servers for lineaged dev and tests.

Neo4j's standalone tarball is not on Maven Central and neither neo4j.com nor Docker is
reachable here, so this script builds a tiny server out of the org.neo4j:neo4j jars
(pinned in scripts/neo4j/pom.xml) and scripts/neo4j/Launcher.java, which boots the
embedded DBMS with Bolt on 127.0.0.1 and password auth. `start --http` also serves the
HTTP API and Neo4j Browser (with lineaged's guide and style, scripts/neo4j/browser/)
on a second free loopback port.

Layout (root defaults to <project>/.neo4j, or $LINEAGED_NEO4J_HOME):

    <root>/dist/<version>/lib/          jars copied by Maven (shared by all instances)
    <root>/dist/<version>/classes/      compiled Launcher
    <root>/dist/<version>/installed.json marker: a second `install` is instant
    <root>/instances/<name>/            Neo4j home: data/, logs/, launcher.log,
                                        password (0600), instance.json

CLI (stdlib only, Python 3.11):

    python scripts/neo4j_local.py install
    eval "$(python scripts/neo4j_local.py start [--name dev] [--heap 512m] [--http])"
    python scripts/neo4j_local.py status|env|stop [--name dev]

Importable (tests load it by path): install(), start(), stop(), status(), env().
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
PROJECT_DIR = SCRIPT_DIR.parent
POM = SCRIPT_DIR / "neo4j" / "pom.xml"
LAUNCHER_SRC = SCRIPT_DIR / "neo4j" / "Launcher.java"
# Compiled with the launcher: the unmanaged extension serving the Browser guide/style.
JAVA_SOURCES = (LAUNCHER_SRC, SCRIPT_DIR / "neo4j" / "BrowserAssets.java")
BROWSER_ASSETS = SCRIPT_DIR / "neo4j" / "browser"
LAUNCHER_CLASS = "Launcher"

HOME_ENV = "LINEAGED_NEO4J_HOME"
HOST = "127.0.0.1"
USER = "neo4j"
DATABASE = "neo4j"
DEFAULT_NAME = "dev"
DEFAULT_HEAP = "512m"
DEFAULT_PAGECACHE = "96m"
# Generous: on a loaded 2-core machine a first start (or recovery after a kill) took
# 80-120 s; a server that is really broken still fails with its log tail.
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0

# Lines the launcher prints on stdout (= launcher.log); see Launcher.java.
READY_TAG = "LINEAGED-NEO4J READY"
FAILED_TAG = "LINEAGED-NEO4J FAILED"

# Exit code of `status`/`env` when the instance is not running (like `systemctl status`).
EXIT_NOT_RUNNING = 3

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SIZE_RE = re.compile(r"^[1-9][0-9]*[mMgG]$")
_LOG_ROTATE_BYTES = 20 * 1024 * 1024

# JVM flags taken from Neo4j 5's default server.jvm.additional that matter for an
# embedded server: without the add-opens the page cache falls back to slower paths.
_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+DisableExplicitGC",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "-Djava.awt.headless=true",
]

# Popen objects of JVMs started by *this* Python process. Keeping them lets us reap the
# child (a dead-but-unreaped child still answers os.kill(pid, 0)) and avoids Popen's
# "subprocess still running" ResourceWarning in long-lived test sessions.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class Neo4jLocalError(RuntimeError):
    """Raised when installing, starting or stopping a local Neo4j fails."""


@dataclass(frozen=True)
class Instance:
    """A running local Neo4j server, as handed to developers and tests."""

    name: str
    dir: Path
    pid: int
    port: int
    uri: str
    user: str
    password: str
    version: str
    database: str = DATABASE
    # Base URL of the HTTP connector (API + Browser) when started with http=True.
    http_url: str | None = None

    @property
    def browser_url(self) -> str | None:
        """Neo4j Browser with the connection form filled in (the password is not)."""
        if self.http_url is None:
            return None
        return f"{self.http_url}/browser/?dbms=bolt://{self.user}@{HOST}:{self.port}"

    def env(self) -> dict[str, str]:
        out = {"NEO4J_URI": self.uri, "NEO4J_USER": self.user, "NEO4J_PASSWORD": self.password}
        if self.http_url is not None:
            out["NEO4J_HTTP_URL"] = self.http_url
        return out

    def exports(self) -> str:
        """One shell line meant for `eval "$(neo4j_local.py start)"`."""
        pairs = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env().items())
        return f"export {pairs}"


@dataclass(frozen=True)
class Status:
    name: str
    dir: Path
    running: bool
    pid: int | None
    port: int | None
    uri: str | None
    http_url: str | None = None


# --------------------------------------------------------------------------- helpers


def _log(msg: str) -> None:
    # Progress goes to stderr so stdout stays eval-able.
    print(f"neo4j_local: {msg}", file=sys.stderr, flush=True)


def neo4j_version() -> str:
    """The pinned version; pom.xml is the single source of truth."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:neo4j.version", ns)
    if node is None or not (node.text or "").strip():
        raise Neo4jLocalError(f"no <neo4j.version> property in {POM}")
    return node.text.strip()  # type: ignore[union-attr]


def default_root() -> Path:
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser().resolve() if env else PROJECT_DIR / ".neo4j"


def dist_dir(home: Path | None = None) -> Path:
    return (home or default_root()) / "dist" / neo4j_version()


def instance_dir(name: str, root: Path | None = None) -> Path:
    if not _NAME_RE.match(name):
        raise Neo4jLocalError(f"invalid instance name {name!r} (letters, digits, _ . -)")
    return (root or default_root()).resolve() / "instances" / name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sources_sha256() -> str:
    digest = hashlib.sha256()
    for src in JAVA_SOURCES:
        digest.update(src.name.encode() + b"\0" + src.read_bytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise install/start/stop across processes (CLI and tests may race)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_json_atomic(path: Path, data: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()[-4000:]
        raise Neo4jLocalError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{out}")


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise Neo4jLocalError("java not found (Neo4j 5.26 needs Java 17 or 21)")
    return found


def _tool(name: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if name == "javac" and java_home and (Path(java_home) / "bin" / "javac").is_file():
        return str(Path(java_home) / "bin" / "javac")
    found = shutil.which(name)
    if not found:
        raise Neo4jLocalError(f"{name} not found on PATH (needed to install Neo4j)")
    return found


# --------------------------------------------------------------------------- install


def install(home: Path | None = None, *, maven_repo: Path | None = None) -> Path:
    """Fetch the pinned Neo4j jars and compile the launcher; return the dist dir.

    Idempotent: a marker records the version and hashes of pom.xml and Launcher.java,
    so a repeated call only reads one small file. Editing either input reinstalls.
    """
    version = neo4j_version()
    dist = dist_dir(home)
    marker = dist / "installed.json"
    want = {
        "version": version,
        "pom_sha256": _sha256(POM),
        "launcher_sha256": _sources_sha256(),
    }
    if _marker_ok(marker, want, dist):
        return dist

    with _locked(dist.parent / f".{version}.lock"):
        if _marker_ok(marker, want, dist):  # another process finished meanwhile
            return dist
        t0 = time.monotonic()
        dist.mkdir(parents=True, exist_ok=True)
        # The old marker stays until the new one replaces it: it tells us below whether
        # the jars are still right; a crash mid-install leaves it not matching `want`.
        have = _read_json(marker) or {}
        lib, lib_tmp = dist / "lib", dist / "lib.tmp"
        # Only the Java sources changed: keep the jars (replacing lib/ under a running
        # server could break its lazy class loading) and just recompile.
        jars_ok = (
            have.get("version") == version
            and have.get("pom_sha256") == want["pom_sha256"]
            and lib.is_dir()
        )
        if not jars_ok:
            _fetch_jars(version, lib, lib_tmp, maven_repo)

        classes, classes_tmp = dist / "classes", dist / "classes.tmp"
        shutil.rmtree(classes_tmp, ignore_errors=True)
        _log("compiling the launcher ...")
        _run(
            [
                _tool("javac"),
                "--release",
                "17",
                "-nowarn",
                "-d",
                str(classes_tmp),
                "-cp",
                f"{lib}{os.sep}*",
                *map(str, JAVA_SOURCES),
            ],
            "javac launcher",
        )
        if not (classes_tmp / f"{LAUNCHER_CLASS}.class").is_file():
            raise Neo4jLocalError("javac produced no Launcher.class")
        shutil.rmtree(classes, ignore_errors=True)
        os.replace(classes_tmp, classes)

        jars = sorted(p.name for p in lib.glob("*.jar"))
        _write_json_atomic(marker, {**want, "jars": len(jars), "installed_at": time.time()})
        took = time.monotonic() - t0
        _log(f"installed Neo4j {version} in {dist} ({len(jars)} jars, {took:.1f}s)")
        return dist


def _fetch_jars(version: str, lib: Path, lib_tmp: Path, maven_repo: Path | None) -> None:
    """Copy the pinned artifact and its runtime closure into lib/ via Maven.

    Maven checks each download against its published checksum; -C makes a mismatch
    fatal instead of a warning. We copy into a temp dir and swap, so an interrupted
    install never leaves a half-filled lib/ that looks complete.
    """
    shutil.rmtree(lib_tmp, ignore_errors=True)
    mvn = [_tool("mvn"), "-q", "-B", "-C", "-f", str(POM)]
    if maven_repo is not None:
        mvn.append(f"-Dmaven.repo.local={maven_repo}")
    mvn += [
        "dependency:copy-dependencies",
        f"-DoutputDirectory={lib_tmp}",
        "-DincludeScope=runtime",
    ]
    _log(f"fetching org.neo4j:neo4j:{version} with Maven ...")
    _run(mvn, "mvn dependency:copy-dependencies")
    _verify_jars(lib_tmp, version)
    shutil.rmtree(lib, ignore_errors=True)
    os.replace(lib_tmp, lib)


def _marker_ok(marker: Path, want: dict[str, str], dist: Path) -> bool:
    have = _read_json(marker)
    if have is None or any(have.get(k) != v for k, v in want.items()):
        return False
    return (dist / "classes" / f"{LAUNCHER_CLASS}.class").is_file() and (dist / "lib").is_dir()


def _verify_jars(lib: Path, version: str) -> None:
    """Cheap sanity checks on top of Maven's checksum verification."""
    for artifact in ("neo4j", "neo4j-kernel", "neo4j-bolt", "neo4j-dbms", "neo4j-server"):
        jar = lib / f"{artifact}-{version}.jar"
        if not jar.is_file():
            raise Neo4jLocalError(f"expected {jar.name} after Maven copy, not found in {lib}")
    # Two kernel versions on one classpath would be a silent, confusing mismatch.
    kernels = sorted(p.name for p in lib.glob("neo4j-kernel-[0-9]*.jar"))
    if kernels != [f"neo4j-kernel-{version}.jar"]:
        raise Neo4jLocalError(f"unexpected kernel jars in {lib}: {kernels}")
    if not list(lib.glob("neo4j-browser-*.jar")):
        raise Neo4jLocalError(f"expected a neo4j-browser jar after Maven copy in {lib}")
    bad = [p.name for p in lib.glob("*.jar") if not zipfile.is_zipfile(p)]
    if bad:
        raise Neo4jLocalError(f"corrupt jars in {lib}: {bad}")


# --------------------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, parent not reaped yet) is not a running server.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_our_launcher(pid: int, inst_dir: Path) -> bool:
    """Guard against PID reuse: the pid must be a Launcher JVM for this instance dir."""
    if not _pid_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        # No /proc (not Linux): trust the pid file rather than refuse to manage it.
        return True
    try:
        home = args[args.index(b"--home") + 1].decode()
    except (ValueError, IndexError):
        return False
    return LAUNCHER_CLASS.encode() in args and home == str(inst_dir)


def bolt_handshake(host: str, port: int, timeout: float = 2.0) -> bool:
    """True if something on host:port speaks Bolt (agrees on a 4.4-5.8 version)."""
    magic = b"\x60\x60\xb0\x17"
    # Four 4-byte proposals: [0, range, minor, major] -> 5.8 down to 5.0, then 4.4.
    proposals = bytes([0, 8, 8, 5]) + bytes([0, 0, 4, 4]) + bytes(8)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(magic + proposals)
            data = b""
            while len(data) < 4:
                chunk = sock.recv(4 - len(data))
                if not chunk:
                    return False
                data += chunk
            return data != b"\x00\x00\x00\x00"
    except OSError:
        return False


def _port_free(port: int) -> bool:
    # SO_REUSEADDR like the JVM's server sockets, so TIME_WAIT leftovers from the last
    # run of this instance do not make us abandon its port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
            sock.listen(1)
        except OSError:
            return False
    return True


def _megabytes(size: str) -> int:
    return int(size[:-1]) * (1024 if size[-1] in "gG" else 1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- instances


def _password(inst_dir: Path) -> str:
    """Read the instance's password, creating a random one (mode 0600) on first use."""
    path = inst_dir / "password"
    if not path.exists():
        # token_urlsafe: shell-safe characters, ~190 bits; O_EXCL so we never clobber.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24) + "\n")
    os.chmod(path, 0o600)
    return path.read_text().strip()


def _instance_from_state(name: str, inst_dir: Path, state: dict[str, object]) -> Instance:
    port = int(state["port"])  # type: ignore[call-overload]
    http_port = state.get("http_port") if state.get("http") else None
    return Instance(
        name=name,
        dir=inst_dir,
        pid=int(state["pid"]),  # type: ignore[call-overload]
        port=port,
        uri=f"bolt://{HOST}:{port}",
        user=USER,
        password=_password(inst_dir),
        version=str(state.get("version", neo4j_version())),
        http_url=f"http://{HOST}:{http_port}" if isinstance(http_port, int) else None,
    )


def http_answers(url: str, timeout: float = 2.0) -> bool:
    """True if the Neo4j web server at `url` serves its discovery document."""
    try:
        with urllib.request.urlopen(url + "/", timeout=timeout) as resp:
            return resp.status == 200 and b"bolt" in resp.read()
    except (OSError, ValueError):
        return False


def _wait_ready(
    proc: subprocess.Popen[bytes] | None,
    pid: int,
    port: int,
    log_path: Path,
    log_offset: int,
    timeout: float,
    http_url: str | None = None,
) -> None:
    """Block until the launcher printed READY *and* Bolt answers a handshake.

    The READY line comes after the password is set, so we never hand out a URI whose
    server still has the default neo4j/neo4j login (Bolt binds a moment before the
    password change; on loopback, and that login can only change the password). The
    handshake proves the socket really serves Bolt.
    """
    deadline = time.monotonic() + timeout
    seen_ready = False
    while True:
        exited = proc.poll() is not None if proc is not None else not _pid_alive(pid)
        if not seen_ready:
            try:
                with open(log_path, "rb") as fh:
                    fh.seek(log_offset)
                    text = fh.read().decode(errors="replace")
            except FileNotFoundError:
                text = ""
            if FAILED_TAG in text:
                reason = text[text.index(FAILED_TAG) :].splitlines()[0]
                raise Neo4jLocalError(f"{reason}\n--- {log_path} (tail) ---\n{_tail(log_path)}")
            seen_ready = READY_TAG in text
        if (
            seen_ready
            and bolt_handshake(HOST, port)
            and (http_url is None or http_answers(http_url))
        ):
            return
        if exited:
            raise Neo4jLocalError(
                f"Neo4j (pid {pid}) exited before Bolt was ready\n"
                f"--- {log_path} (tail) ---\n{_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise Neo4jLocalError(
                f"Neo4j (pid {pid}) not answering on {HOST}:{port} after {timeout:.0f}s\n"
                f"--- {log_path} (tail) ---\n{_tail(log_path)}"
            )
        time.sleep(0.2)


def start(
    name: str = DEFAULT_NAME,
    root: Path | None = None,
    heap: str = DEFAULT_HEAP,
    *,
    pagecache: str = DEFAULT_PAGECACHE,
    timeout: float = START_TIMEOUT_S,
    port: int | None = None,
    owner_pid: int | None = None,
    http: bool = False,
) -> Instance:
    """Start (or find running) instance `name`; returns once Bolt accepts logins.

    A restart of an existing instance keeps its data, password and — if still free —
    its ports, so clients configured before a stop keep working after a start.
    `port` forces a port (error if taken). `owner_pid` makes the server shut itself
    down when that process disappears (tests use it against orphaned JVMs).
    `http` also serves the HTTP API and Neo4j Browser on a second loopback port
    (it loads ~40 more jars' worth of web server, so tests leave it off).
    """
    for size in (heap, pagecache):
        if not _SIZE_RE.match(size):
            raise Neo4jLocalError(f"bad size {size!r}; use e.g. 512m or 1g")
    if _megabytes(heap) < 128:
        # Neo4j does not get through startup with less, and -Xms64m must fit below.
        raise Neo4jLocalError(f"heap {heap!r} too small; use at least 128m")
    inst_dir = instance_dir(name, root)
    inst_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    state_path = inst_dir / "instance.json"
    log_path = inst_dir / "launcher.log"

    with _locked(inst_dir / ".lock"):
        state = _read_json(state_path) or {}
        old_pid = state.get("pid")
        if isinstance(old_pid, int) and _is_our_launcher(old_pid, inst_dir):
            if http and not state.get("http"):
                raise Neo4jLocalError(
                    f"instance {name!r} is running without HTTP/Browser; stop it first "
                    f"(neo4j_local.py stop --name {name}) and start it again with --http"
                )
            # Already running (perhaps still starting): just wait for it and reuse it.
            running = _instance_from_state(name, inst_dir, state)
            _wait_ready(
                _CHILDREN.get(old_pid),
                old_pid,
                running.port,
                log_path,
                int(state.get("log_offset", 0)),  # type: ignore[call-overload]
                timeout,
                running.http_url,
            )
            return running

        dist = install()
        password_path = inst_dir / "password"
        _password(inst_dir)

        prev_port = state.get("port")
        candidates: list[int]
        if port is not None:
            candidates = [port]
        elif isinstance(prev_port, int) and _port_free(prev_port):
            candidates = [prev_port]
        else:
            # A fresh port can be taken between our probe and the JVM's bind; retry.
            candidates = [_free_port() for _ in range(3)]

        if log_path.exists() and log_path.stat().st_size > _LOG_ROTATE_BYTES:
            os.replace(log_path, log_path.with_name("launcher.log.1"))

        prev_http = state.get("http_port")
        last_error: Neo4jLocalError | None = None
        for cand in candidates:
            if not _port_free(cand):
                last_error = Neo4jLocalError(f"port {HOST}:{cand} is in use")
                continue
            http_port: int | None = None
            if http:
                keep = isinstance(prev_http, int) and prev_http != cand and _port_free(prev_http)
                http_port = prev_http if keep else _free_port()  # type: ignore[assignment]
                while http_port == cand:
                    http_port = _free_port()
            http_url = f"http://{HOST}:{http_port}" if http_port is not None else None
            log_offset = log_path.stat().st_size if log_path.exists() else 0
            cmd = [
                _java(),
                f"-Xmx{heap}",
                # Small initial heap on purpose: with -Xms = -Xmx, RSS went from ~370 MB
                # to ~570 MB at idle. Neo4j logs a harmless warning about it.
                "-Xms64m",
                *_JVM_FLAGS,
                "-cp",
                f"{dist / 'classes'}{os.pathsep}{dist / 'lib'}{os.sep}*",
                LAUNCHER_CLASS,
                "--home",
                str(inst_dir),
                "--port",
                str(cand),
                "--password-file",
                str(password_path),
                "--pagecache",
                pagecache,
                *(["--owner-pid", str(owner_pid)] if owner_pid is not None else []),
                *(
                    ["--http-port", str(http_port), "--browser-assets", str(BROWSER_ASSETS)]
                    if http_port is not None
                    else []
                ),
            ]
            t0 = time.monotonic()
            with open(log_path, "ab") as out:
                # Own session/process group: the server outlives this CLI and is not hit
                # by the Ctrl-C the developer sends to their shell or to pytest.
                proc = subprocess.Popen(
                    cmd,
                    cwd=inst_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
            _CHILDREN[proc.pid] = proc
            new_state: dict[str, object] = {
                "name": name,
                "pid": proc.pid,
                "port": cand,
                "uri": f"bolt://{HOST}:{cand}",
                "user": USER,
                "password_file": str(password_path),
                "version": dist.name,
                "heap": heap,
                "pagecache": pagecache,
                "owner_pid": owner_pid,
                "http": http,
                # Kept (like the Bolt port) while the instance is stopped for reuse.
                "http_port": http_port if http_port is not None else prev_http,
                "log": str(log_path),
                "log_offset": log_offset,
                "started_at": time.time(),
                "status": "starting",
            }
            # Record the pid before waiting so `stop` can clean up a hung start.
            _write_json_atomic(state_path, new_state)
            try:
                _wait_ready(proc, proc.pid, cand, log_path, log_offset, timeout, http_url)
            except Neo4jLocalError as exc:
                last_error = exc
                _terminate(proc.pid, inst_dir, STOP_TIMEOUT_S)
                new_state.update(pid=None, status="failed")
                _write_json_atomic(state_path, new_state)
                # Only a lost port race is worth another try; anything else is final.
                if "Address already in use" in str(exc) and len(candidates) > 1:
                    continue
                raise
            new_state.update(status="running", ready_s=round(time.monotonic() - t0, 2))
            _write_json_atomic(state_path, new_state)
            _log(f"{name}: Neo4j {dist.name} ready on {HOST}:{cand} in {new_state['ready_s']}s")
            return _instance_from_state(name, inst_dir, new_state)
        raise last_error or Neo4jLocalError("no port candidates")


def _terminate(pid: int, inst_dir: Path, timeout: float) -> None:
    """SIGTERM (clean shutdown via the launcher's hook), then SIGKILL if it hangs."""
    if not _is_our_launcher(pid, inst_dir):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_exit(pid, timeout):
        return
    _log(f"pid {pid} ignored SIGTERM for {timeout:.0f}s; sending SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if not _wait_exit(pid, 10.0):
        raise Neo4jLocalError(f"pid {pid} survived SIGKILL")


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(
    name: str = DEFAULT_NAME, root: Path | None = None, timeout: float = STOP_TIMEOUT_S
) -> bool:
    """Stop the instance; True if it was running. Stopping a stopped one is a no-op."""
    inst_dir = instance_dir(name, root)
    state_path = inst_dir / "instance.json"
    if not state_path.exists():
        return False
    with _locked(inst_dir / ".lock"):
        state = _read_json(state_path) or {}
        pid = state.get("pid")
        was_running = isinstance(pid, int) and _is_our_launcher(pid, inst_dir)
        if was_running:
            assert isinstance(pid, int)
            _terminate(pid, inst_dir, timeout)
        # Keep port/password/version: the next start of this instance reuses them.
        state.update(pid=None, status="stopped", stopped_at=time.time())
        _write_json_atomic(state_path, state)
        return was_running


def status(name: str = DEFAULT_NAME, root: Path | None = None) -> Status:
    inst_dir = instance_dir(name, root)
    state = _read_json(inst_dir / "instance.json") or {}
    pid = state.get("pid")
    port = state.get("port")
    running = isinstance(pid, int) and _is_our_launcher(pid, inst_dir)
    http_port = state.get("http_port") if state.get("http") else None
    return Status(
        name=name,
        dir=inst_dir,
        running=running,
        pid=pid if running and isinstance(pid, int) else None,
        port=port if isinstance(port, int) else None,
        uri=f"bolt://{HOST}:{port}" if isinstance(port, int) else None,
        http_url=f"http://{HOST}:{http_port}" if isinstance(http_port, int) else None,
    )


def env(name: str = DEFAULT_NAME, root: Path | None = None) -> Instance:
    """The connection details of a running instance (raises if it is not running)."""
    inst_dir = instance_dir(name, root)
    st = status(name, root)
    if not st.running:
        raise Neo4jLocalError(f"instance {name!r} is not running (in {inst_dir})")
    state = _read_json(inst_dir / "instance.json") or {}
    return _instance_from_state(name, inst_dir, state)


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"instances live in ROOT/instances (default: ${HOME_ENV} or <project>/.neo4j)",
    )
    named = argparse.ArgumentParser(add_help=False, parents=[common])
    named.add_argument("--name", default=DEFAULT_NAME, help="instance name (default: dev)")

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    # No --root for install: the dist is shared by all roots (see default_root()).
    inst = sub.add_parser("install", help="fetch jars, compile launcher")
    inst.add_argument("--maven-repo", type=Path, default=None, help="Maven local repo to use")
    st = sub.add_parser("start", parents=[named], help="start and print export lines")
    st.add_argument("--heap", default=DEFAULT_HEAP, help="JVM heap, e.g. 512m")
    st.add_argument("--pagecache", default=DEFAULT_PAGECACHE, help="page cache, e.g. 96m")
    st.add_argument("--timeout", type=float, default=START_TIMEOUT_S, help="seconds to wait")
    st.add_argument("--port", type=int, default=None, help="fixed Bolt port (default: free)")
    st.add_argument(
        "--http",
        action="store_true",
        help="also serve the HTTP API and Neo4j Browser on a free loopback port",
    )
    sub.add_parser("stop", parents=[named], help="stop (SIGTERM, then SIGKILL)")
    sub.add_parser("status", parents=[named], help="exit 0 if running, 3 if not")
    sub.add_parser("env", parents=[named], help="print export lines of a running instance")
    return p


def _announce(inst: Instance) -> None:
    """Where to connect, on stderr (stdout stays eval-able)."""
    _log(f"{inst.name}: Bolt {inst.uri} (user {inst.user}, password in {inst.dir / 'password'})")
    if inst.browser_url:
        _log(f"{inst.name}: Neo4j Browser {inst.browser_url}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root: Path | None = args.root.resolve() if getattr(args, "root", None) else None
    try:
        if args.command == "install":
            t0 = time.monotonic()
            print(install(maven_repo=args.maven_repo))
            _log(f"install took {time.monotonic() - t0:.2f}s")
        elif args.command == "start":
            inst = start(
                args.name,
                root,
                args.heap,
                pagecache=args.pagecache,
                timeout=args.timeout,
                port=args.port,
                http=args.http,
            )
            _announce(inst)
            print(inst.exports())
        elif args.command == "stop":
            was = stop(args.name, root)
            _log(f"{args.name}: {'stopped' if was else 'was not running'}")
        elif args.command == "status":
            s = status(args.name, root)
            if s.running:
                http = f" http={s.http_url}" if s.http_url else ""
                print(f"running pid={s.pid} uri={s.uri}{http} dir={s.dir}")
                return 0
            print(f"stopped uri={s.uri or '-'} dir={s.dir}")
            return EXIT_NOT_RUNNING
        elif args.command == "env":
            try:
                print(env(args.name, root).exports())
            except Neo4jLocalError as exc:
                _log(str(exc))
                return EXIT_NOT_RUNNING
    except Neo4jLocalError as exc:
        _log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
