"""Running kernels for tests: real ``iokit kernel`` processes on real sockets, and clients.

:class:`KernelFactory` runs ``python -m iokit_host kernel`` with the test kext
(``tests/server/kext``, installed as a distribution folder on ``PYTHONPATH``) and waits for its
ready line (never a sleep); :meth:`KernelFactory.close` kills what still runs. ``run_client``
runs IOKitLib code in another process, ``iokit`` the command.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hostkit import kext, make_host, personality, wifi_nub
from iokit_sdk.iokitlib.wire import MAX_REQUEST_FRAME, PROTOCOL_VERSION, pack
from iokit_sdk.service import IOService
from iokit_sdk.userclient import OwningTask

from iokit_host.host import IOKitHost
from iokit_host.machine.model import NubSpec
from iokit_host.server.context import KernelContext
from iokit_host.server.peer import peer_of
from iokit_host.server.session import Session
from iokit_host.userclient.connections import UserClients

KEXT_SOURCE = Path(__file__).parent / "server" / "kext" / "iokit_test_userclient"
READY = "iokit kernel: listening on "
#: Generous: a loaded CI machine may take a while to boot; a hang still fails, never waits on.
READY_TIMEOUT_S = 60.0
#: ``ulimit -n N`` then exec the rest of the command line (the kernel keeps the process).
_LIMIT_FDS = ("import os, resource, sys\n"
              "n = int(sys.argv[1])\n"
              "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))\n"
              "os.execv(sys.argv[2], sys.argv[2:])\n")
STOP_TIMEOUT_S = 30.0


def short_dir() -> str:
    """A directory with a short path: ``AF_UNIX`` paths stop at 108 bytes."""
    return tempfile.mkdtemp(prefix="iok", dir="/tmp")


class KernelProcess:
    """One running ``iokit kernel``."""

    def __init__(self, proc: subprocess.Popen[bytes], path: str, log: Path) -> None:
        self.proc = proc
        self.path = path
        self.log = log
        self.ready_line = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + READY_TIMEOUT_S
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.kill()
                pytest.fail(f"the kernel printed no ready line; its log:\n{self.stderr()}")
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait()
                pytest.fail(f"the kernel exited ({self.proc.returncode}):\n{self.stderr()}")
            data += chunk
        selector.close()
        self.ready_line = data.decode().split("\n", 1)[0]
        assert self.ready_line == READY + self.path

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the kernel and return its exit status (killed, and failed, if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the kernel did not stop on signal {sig}:\n{self.stderr()}")

    def stdout_rest(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read().decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def kernel_env(kext_dist: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(kext_dist), env.get("PYTHONPATH"))
                                        if p)
    env["IOKIT_NO_CACHE"] = "1"  # the kernel collection of the shared venv stays untouched
    env.pop("IOKIT_KERNEL", None)
    env.update(extra)
    return env


class KernelFactory:
    def __init__(self, kext_dist: Path) -> None:
        self.kext_dist = kext_dist
        self.running: list[KernelProcess] = []
        self.dirs: list[str] = []

    def start(self, *args: str, path: str | None = None, socket_option: bool = True,
              env: dict[str, str] | None = None, wait: bool = True,
              fd_limit: int | None = None) -> KernelProcess:
        """Start a kernel listening on ``path`` (default: a fresh short directory's
        ``k.sock``), passed as ``--socket`` unless ``socket_option`` is False (the kernel then
        finds its default path, which ``path`` must name); ``fd_limit`` is its ``ulimit -n``."""
        directory = short_dir()
        self.dirs.append(directory)
        path = path if path is not None else os.path.join(directory, "k.sock")
        command = [sys.executable, "-m", "iokit_host", "kernel", *args]
        if socket_option:
            command += ["--socket", path]
        log = Path(directory) / "kernel.log"
        with open(log, "wb") as stderr:
            if fd_limit is not None:  # the same process, once its limit is set (exec)
                command = [sys.executable, "-c", _LIMIT_FDS, str(fd_limit), *command]
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr,
                                    env=env if env is not None else kernel_env(self.kext_dist))
        kernel = KernelProcess(proc, path, log)
        self.running.append(kernel)
        if wait:
            kernel.wait_ready()
        return kernel

    def close(self) -> None:
        for kernel in self.running:  # SIGTERM first: the kernel removes its runtime files
            if kernel.proc.poll() is None:
                kernel.proc.terminate()
                try:
                    kernel.proc.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
            kernel.kill()
        for directory in self.dirs:
            shutil.rmtree(directory, ignore_errors=True)


def run_client(code: str, kernel: KernelProcess, *args: str,
               env: dict[str, str] | None = None, **options: object
               ) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in another Python process with ``IOKIT_KERNEL`` pointing at ``kernel``."""
    environment = dict(env if env is not None else os.environ)
    environment["IOKIT_KERNEL"] = kernel.path
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=environment, timeout=120, check=False, **options)  # type: ignore[call-overload]


#: A program registered for system power (``IORegisterForSystemPower``) that allows each
#: change the moment it is asked, printing ``told 0x...`` per message (``registered`` first).
ANSWERING_PROGRAM = """
import sys, threading
from iokit_sdk.iokitlib import *
from iokit_sdk.messages import kIOMessageCanSystemSleep, kIOMessageSystemWillSleep
notify = IONotificationPortCreate(0)
def told(refcon, service, message, argument):
    print(f"told {message:#x}", flush=True)
    if message in (kIOMessageCanSystemSleep, kIOMessageSystemWillSleep):
        IOAllowPowerChange(root, argument)
root = IORegisterForSystemPower(None, notify, told)
print("registered", flush=True)
threading.Thread(target=sys.stdin.read, daemon=True).start()
while True:
    IONotificationPortDispatch(notify, None)
"""


def start_program(kernel_path: str, code: str, ready: str) -> subprocess.Popen[str]:
    """``code`` running in another Python process against the kernel at ``kernel_path``,
    once it printed the line ``ready``."""
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "IOKIT_KERNEL": kernel_path})
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != ready:
        child.kill()
        child.wait()
    assert line == ready
    return child


def stop_program(child: subprocess.Popen[str]) -> None:
    """SIGKILL a :func:`start_program` child and reap it."""
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            stream.close()


def iokit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``iokit`` command in its own process."""
    return subprocess.run([sys.executable, "-m", "iokit_host", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def big_machine(path: Path, count: int = 10_000) -> Path:
    """A machine of ``count`` registry entries: the platform (``Big1,1``) and nubs eight to a
    parent, each with two properties."""
    lines = ['[machine]\nname = "big"\n',
             '[[nub]]\nid = "n0"\nclass = "IOPlatformExpertDevice"\nname = "Big1,1"\n']
    for index in range(1, count - 1):
        lines.append(f'[[nub]]\nid = "n{index}"\nparent = "n{(index - 1) // 8}"\n'
                     f'class = "IOService"\nname = "N{index}"\nlocation = "{index:x}"\n'
                     '[nub.properties]\nvendor-id = 32902\nreg = { data = "00e100e100e1" }\n'
                     )
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def begin_large_frames(path: str, count: int) -> list[socket.socket]:
    """``count`` connections that say hello, then send three quarters of a 4 MiB request
    (as much of it as the kernel reads) and stop."""
    hello = pack({"op": "hello", "id": 0, "protocol": "iokit", "version": PROTOCOL_VERSION})
    socks: list[socket.socket] = []
    unsent: dict[socket.socket, bytes] = {}
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX)
        socks.append(sock)
        sock.connect(path)
        sock.setblocking(False)
        unsent[sock] = hello + MAX_REQUEST_FRAME.to_bytes(4, "big") \
            + bytes(3 * MAX_REQUEST_FRAME // 4)
    send_all(unsent, 1.0)
    return socks


def send_all(unsent: dict[socket.socket, bytes], timeout_s: float) -> bool:
    """Send each non-blocking socket its bytes, as each can take them; False when none could
    take more for ``timeout_s`` (``unsent`` keeps what is left)."""
    while unsent:
        _, writable, _ = select.select([], list(unsent), [], timeout_s)
        if not writable:
            return False
        for sock in writable:
            with contextlib.suppress(BlockingIOError):
                sent = sock.send(unsent[sock][:1 << 20])
                unsent[sock] = unsent[sock][sent:]
                if not unsent[sock]:
                    del unsent[sock]
    return True


# -- fixtures (conftest modules import them) -----------------------------------------------
@pytest.fixture(scope="session")
def kext_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test kext as an installed distribution folder (package + ``.dist-info``)."""
    root = tmp_path_factory.mktemp("kexts")
    shutil.copytree(KEXT_SOURCE, root / KEXT_SOURCE.name)
    info = root / "iokit_test_userclient-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iokit-test-userclient\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[iokit.kexts]\ncom.test.userclient = iokit_test_userclient\n", encoding="utf-8")
    return root


@pytest.fixture
def kernel_factory(kext_dist: Path) -> Iterator[KernelFactory]:
    factory = KernelFactory(kext_dist)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def kernel(kext_dist: Path) -> Iterator[KernelProcess]:
    """One kernel shared by a module's tests (they must leave it as they found it)."""
    factory = KernelFactory(kext_dist)
    try:
        yield factory.start()
    finally:
        factory.close()


# -- in-process hosts with the test kext --------------------------------------------------
@pytest.fixture
def task() -> OwningTask:
    """The caller of the in-process tests: what SO_PEERCRED would have said."""
    return OwningTask(4242, 501, 20, "tester")


@pytest.fixture(scope="session")
def test_kext() -> ModuleType:
    """tests/server/kext's driver package, imported from its folder."""
    spec = importlib.util.spec_from_file_location("iokit_test_userclient",
                                                  KEXT_SOURCE / "__init__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def uc_host(test_kext: ModuleType) -> IOKitHost:
    """A host with an SMC nub driven by the test kext's ``TestUCDriver``."""
    smc = NubSpec("IOACPIPlatformDevice", name="SMC", properties={"name": b"APP0001\0"})
    bundle = kext("com.test.userclient", {"TestUCDriver": personality(
        "TestUCDriver", "IOACPIPlatformDevice", IONameMatch="APP0001",
        IOUserClientClass="TestUserClient")})
    classes = [getattr(test_kext, name) for name in test_kext.__all__]
    return make_host([smc], [bundle], {"com.test.userclient": classes}).boot()


@pytest.fixture
def driver(uc_host: IOKitHost) -> IOService:
    (found,) = uc_host.kernel.copy_matching_services({"IOProviderClass": "TestUCDriver"})
    return found


@pytest.fixture
def user_clients(uc_host: IOKitHost) -> UserClients:
    return UserClients(uc_host.kernel)


#: A kernel context, one program's session in it, the program's end of its socket, and the
#: wifi device (:func:`wired`).
Wired = tuple[KernelContext, Session, socket.socket, IOService]


@pytest.fixture
def wired() -> Iterator[Wired]:
    """A kernel context with one program's session (its end returned) and the wifi device."""
    host = make_host([wifi_nub()], []).boot()
    device = host.find("pci14e4,4331")
    assert device is not None
    ctx = KernelContext.for_host(host)
    kernel_end, program_end = socket.socketpair()
    peer = peer_of(kernel_end)
    yield ctx, Session(kernel_end, peer, peer.task(ctx.policy)), program_end, device
    kernel_end.close()
    program_end.close()
