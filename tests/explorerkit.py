"""Running explorers for tests: real ``iokit kernel --http`` processes, and HTTP helpers.

A kernel runs with ``tests/explorer/kext`` (an audio driver that answers power changes late)
installed as a distribution folder on ``PYTHONPATH``, as tests/kernelkit.py installs its kext;
the explorer's URL is read from the kernel's second stdout line (never a sleep).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kernelkit import READY, READY_TIMEOUT_S, STOP_TIMEOUT_S, kernel_env, short_dir

KEXT_SOURCE = Path(__file__).parent / "explorer" / "kext" / "iokit_test_tardy"
EXPLORER = "iokit kernel: explorer on "
HTTP_TIMEOUT_S = 30.0


@dataclass
class Explorer:
    """One running kernel with its explorer."""

    proc: subprocess.Popen[bytes]
    socket: str
    url: str
    log: Path

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return request(self.url + path.lstrip("/"), headers=headers)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
        return request(self.url + path.lstrip("/"), data=body, headers=headers)

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the kernel did not stop:\n{self.stderr()}")
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def request(url: str, *, data: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """``(status, JSON body or text)`` of one request; 4xx and 5xx are answers, not errors."""
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status = error.code
        try:
            raw = error.read()
        except ConnectionError:  # the server refused a request too big to read, and hung up
            raw = b""
        finally:
            error.close()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def explore_kernel(kernel_path: str, kext_dist: Path, log: Path) -> Explorer:
    """``iokit explore --kernel kernel_path``: an explorer in a process of its own, which
    outlives the kernel it shows; its stderr goes to ``log``."""
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "iokit_host", "explore", "--no-open",
                                 "--http", "127.0.0.1:0", "--kernel", kernel_path],
                                stdout=subprocess.PIPE, stderr=stderr,
                                env=kernel_env(kext_dist))
    (line,) = read_lines(proc, 1, log)
    url = line.removeprefix("iokit explore: explorer on ").split(" ")[0]
    return Explorer(proc, kernel_path, url, log)


def read_lines(proc: subprocess.Popen[bytes], count: int, log: Path) -> list[str]:
    """The first ``count`` stdout lines, or a failure with the kernel's log."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + READY_TIMEOUT_S
    data = b""
    try:
        while data.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                proc.kill()
                pytest.fail(f"the kernel printed no ready line; its log:\n{_text(log)}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait()
                pytest.fail(f"the kernel exited ({proc.returncode}):\n{_text(log)}")
            data += chunk
    finally:
        selector.close()
    return data.decode().splitlines()[:count]


def _text(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""


class ExplorerFactory:
    def __init__(self, kext_dist: Path) -> None:
        self.kext_dist = kext_dist
        self.running: list[Explorer] = []
        self.dirs: list[str] = []

    def start(self, *args: str, also: Path | None = None,
              env_extra: dict[str, str] | None = None) -> Explorer:
        """A kernel with the tardy kext (and the kexts in folder ``also``) and its explorer;
        ``env_extra`` adds to its environment."""
        directory = short_dir()
        self.dirs.append(directory)
        path = os.path.join(directory, "k.sock")
        log = Path(directory) / "kernel.log"
        command = [sys.executable, "-m", "iokit_host", "kernel", "--socket", path,
                   "--http", "127.0.0.1:0", *args]
        env = kernel_env(self.kext_dist)
        if also is not None:
            env["PYTHONPATH"] = os.pathsep.join((str(also), env["PYTHONPATH"]))
        env.update(env_extra or {})
        with open(log, "wb") as stderr:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, env=env)
        ready, explorer = read_lines(proc, 2, log)
        assert ready == READY + path
        assert explorer.startswith(EXPLORER)
        started = Explorer(proc, path, explorer.removeprefix(EXPLORER), log)
        self.running.append(started)
        return started

    def close(self) -> None:
        for explorer in self.running:
            if explorer.proc.poll() is None:
                explorer.stop()
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)


def install_tardy_kext(root: Path) -> Path:
    """The tardy-audio test kext as an installed distribution folder under ``root``."""
    shutil.copytree(KEXT_SOURCE, root / KEXT_SOURCE.name)
    info = root / "iokit_test_tardy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iokit-test-tardy\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[iokit.kexts]\ncom.test.tardyaudio = iokit_test_tardy\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tardy_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_tardy_kext(tmp_path_factory.mktemp("explorer-kexts"))


@pytest.fixture(scope="module")
def explorer_factory(tardy_dist: Path) -> Iterator[ExplorerFactory]:
    factory = ExplorerFactory(tardy_dist)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def explorer(explorer_factory: ExplorerFactory) -> Explorer:
    """A read-only explorer on the default machine, shared by a module's tests (they leave
    the registry as they found it)."""
    return explorer_factory.start()


def iokit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, timeout=120, check=False,
                          env={k: v for k, v in os.environ.items() if k != "IOKIT_KERNEL"})


def write_events(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def entry_id(explorer: Explorer, name: str) -> int:
    """The id of the one entry named ``name`` (a search by name)."""
    status, found = explorer.get(f"/api/search?q={name}&field=name")
    assert status == 200, found
    (hit,) = [h for h in found["hits"] if h["label"].split("@")[0] == name]
    return int(hit["id"])


def nub(nub_id: str, parent: str, name: str, *, location: str | None = None,
        properties: dict[str, str] | None = None) -> str:
    """One ``[[nub]]`` table of a machine model (every text quoted, whatever it holds)."""
    lines = [(f"[[nub]]\nid = {json.dumps(nub_id)}\nparent = {json.dumps(parent)}\n"
              f'class = "IOService"\nname = {json.dumps(name)}\n')]
    if location is not None:
        lines.append(f"location = {json.dumps(location)}\n")
    if properties:
        lines.append("[nub.properties]\n")
        lines += [f"{json.dumps(k)} = {json.dumps(v)}\n" for k, v in properties.items()]
    return "".join(lines)


def machine_model(path: Path, nubs: list[str]) -> Path:
    """A machine model at ``path``: a platform nub (id ``platform``) and ``nubs`` below it."""
    path.write_text('[machine]\nname = "hostile"\n\n[[nub]]\nid = "platform"\n'
                    'class = "IOPlatformExpertDevice"\nname = "Plat"\n\n' + "\n".join(nubs),
                    encoding="utf-8")
    return path
