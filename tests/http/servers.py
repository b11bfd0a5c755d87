"""The HTTP file servers under test and benchmark, and how to start and stop them.

Every server takes ``--root DIR --port PORT`` (0 = any free port), prints a line containing
``listening on 127.0.0.1:PORT`` when it accepts connections, and stops cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_PY = ROOT / ".venv" / "bin" / "python"
JAVA = os.environ.get("JAVA", shutil.which("java") or "java")
EXAMPLES_JAR = ROOT / "java-examples" / "target" / "zcopy-examples.jar"


def _zcopy_jar() -> Path:
    """The io.zcopy:zcopy jar the examples were built against (`make java-examples` resolves it
    from dist/maven into the examples' own Maven repository), else the build tree's."""
    resolved = sorted((ROOT / "java-examples" / "target" / "m2" / "io" / "zcopy" / "zcopy").glob("*/zcopy-*.jar"))
    jars = [j for j in resolved if not j.name.endswith(("-sources.jar", "-javadoc.jar"))]
    return jars[-1] if jars else ROOT / "jni-bridge" / "target" / "zcopy.jar"


JAR = _zcopy_jar()
# The benchmark artifact: JMH benchmarks and the showcase runner io.zcopy.bench.Runner.
BENCH_JAR = ROOT / "jni-bridge" / "bench" / "target" / "zcopy-bench.jar"


@dataclass
class ServerSpec:
    name: str
    command: list[str]
    zcopy: bool
    available: bool = True
    why_not: str = ""
    env: dict[str, str] = field(default_factory=dict)


def _python() -> str:
    return str(VENV_PY) if VENV_PY.exists() else sys.executable


def specs() -> list[ServerSpec]:
    """The servers, each marked available or not (with the reason)."""
    c_server = ROOT / "c-api" / "build" / "zc-http-server"
    py_server = ROOT / "python" / "examples" / "http_server.py"
    out = [
        ServerSpec("c-zcopy", [str(c_server)], True),
        ServerSpec("java-zcopy", [JAVA, "--enable-native-access=ALL-UNNAMED", "-cp",
                                  f"{JAR}:{EXAMPLES_JAR}", "io.zcopy.examples.HttpFileServer"], True),
        ServerSpec("python-zcopy", [_python(), str(py_server)], True),
        ServerSpec("java-jdk", [JAVA, str(ROOT / "tests" / "http" / "baselines" / "JdkFileServer.java")], False),
        ServerSpec("python-asyncio", [_python(), str(ROOT / "tests" / "http" / "baselines" / "asyncio_sendfile_server.py")],
                   False),
    ]
    checks = {
        "c-zcopy": (c_server, "build it with `make c-build`"),
        "java-zcopy": (EXAMPLES_JAR, "build it with `make java-examples`"),
        "python-zcopy": (py_server, "the Python example server is missing"),
    }
    for s in out:
        if s.name in checks:
            path, how = checks[s.name]
            if not Path(path).exists():
                s.available, s.why_not = False, f"{path} not found: {how}"
    return out


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


LISTEN = re.compile(rb"listening on (?:http://)?([0-9.]+):([0-9]+)")


class Running:
    """A started server; use as a context manager."""

    def __init__(self, spec: ServerSpec, root: Path, port: int = 0, extra: list[str] | None = None):
        self.spec = spec
        self.proc = subprocess.Popen(
            spec.command + ["--root", str(root), "--port", str(port)] + (extra or []),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **spec.env},
            start_new_session=True,
            # A shell runs background jobs with SIGINT ignored, and the JVM keeps an inherited
            # SIG_IGN (it installs no handler then): the servers start with it at its default,
            # as from a terminal.
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"{spec.name} exited before listening: {err[-2000:]}")
            m = LISTEN.search(line)
            if m:
                self.host, self.port = m.group(1).decode(), int(m.group(2))
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{spec.name} did not start listening")

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def addr(self) -> tuple[str, int]:
        return self.host, self.port

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise RuntimeError(f"{self.spec.name} did not stop within {timeout} s of signal {sig}")
        return self.proc.returncode

    def __enter__(self) -> "Running":
        return self

    def leftovers(self) -> bool:
        """Whether a process of the server's group (a worker it forked) outlived it."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            # The server leads its own session (start_new_session), so its group is exactly the
            # server and its workers; nothing of it outlives the test.
            if self.proc.poll() is None or self.leftovers():
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def exchange(addr: tuple[str, int], data: bytes | list[bytes], *, pause: float = 0.0, quiet: float = 3.0,
             timeout: float = 10.0) -> bytes:
    """Sends `data` (or its pieces, `pause` seconds apart) on a new connection, and returns what
    the server sends until it closes the connection or stays quiet for `quiet` seconds. What
    curl never sends (malformed, split, pipelined requests) goes this way."""
    with socket.create_connection(addr, timeout=timeout) as s:
        for piece in data if isinstance(data, list) else [data]:
            s.sendall(piece)
            if pause:
                time.sleep(pause)
        s.settimeout(quiet)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except socket.timeout:
            pass
        return b"".join(chunks)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (alive now), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / tick
        todo.extend(children.get(p, []))
    return total
