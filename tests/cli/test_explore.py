"""``iokit explore``: a private kernel of any machine a user has, or a running kernel, served in
the browser; wrong options are diagnostics, Ctrl-C ends it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from explorerkit import EXPLORER, ExplorerFactory, install_tardy_kext, read_lines, request
from kernelkit import READY, STOP_TIMEOUT_S, kernel_env

DUMP = "ioreg/khronokernel__DarwinDumped__MacMini_MacMini3_1_IORegDump_IOReg.txt"


def explore(tmp_path: Path, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.Popen[bytes]:
    log = open(tmp_path / "explore.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "iokit_host", "explore", "--no-open",
                             "--http", "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                            stderr=log, env=env or {k: v for k, v in os.environ.items()
                                                    if k != "IOKIT_KERNEL"})
    log.close()
    return proc


def interrupt(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=STOP_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()


def test_explore_boots_a_private_kernel_and_ctrl_c_removes_its_socket(tmp_path: Path) -> None:
    proc = explore(tmp_path, "--machine", "default")
    ready, served = read_lines(proc, 2, tmp_path / "explore.log")
    socket_path = ready.removeprefix(READY)
    assert os.path.exists(socket_path)
    status, meta = request(served.removeprefix(EXPLORER) + "api/meta")
    assert status == 200 and meta["machine"] == "default" and meta["allow_events"] is False
    assert interrupt(proc) == 0
    assert not os.path.exists(os.path.dirname(socket_path))


def test_explore_shows_a_real_macs_ioreg_dump(tmp_path: Path, corpus: Path) -> None:
    proc = explore(tmp_path, "--machine", str(corpus / DUMP))
    _, served = read_lines(proc, 2, tmp_path / "explore.log")
    url = served.removeprefix(EXPLORER)
    status, found = request(url + "api/search?q=IOPCIDevice&field=class")
    assert status == 200 and found["total"] > 5
    status, entry = request(url + f"api/entries/{found['hits'][0]['id']}")
    assert status == 200 and entry["paths"]["IOService"].startswith("IOService:/")
    assert interrupt(proc) == 0


def test_explore_reads_a_running_kernel(tmp_path: Path) -> None:
    tardy_dist = install_tardy_kext(tmp_path / "kexts")
    factory = ExplorerFactory(tardy_dist)
    try:
        kernel = factory.start()
        proc = explore(tmp_path, "--kernel", kernel.socket, "--allow-events",
                       env=kernel_env(tardy_dist))
        (line,) = read_lines(proc, 1, tmp_path / "explore.log")
        assert line.startswith("iokit explore: explorer on http://127.0.0.1:")
        assert line.endswith(f" for the kernel at {kernel.socket}")
        url = line.removeprefix("iokit explore: explorer on ").split(" ")[0]
        status, meta = request(url + "api/meta")
        assert status == 200 and meta["kernel"] == kernel.socket and meta["allow_events"]
        assert interrupt(proc) == 0
    finally:
        factory.close()


def test_an_explorer_whose_kernel_is_not_there_says_so(tmp_path: Path) -> None:
    proc = explore(tmp_path, "--kernel", str(tmp_path / "none.sock"))
    (line,) = read_lines(proc, 1, tmp_path / "explore.log")
    status, body = request(line.removeprefix("iokit explore: explorer on ").split(" ")[0]
                           + "api/meta")
    assert status == 503 and body["error"]["reference"] == "kernel-unreachable"
    assert interrupt(proc) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_a_closed_terminal_ends_an_explorer_as_ctrl_c_does(
        tmp_path: Path, sig: signal.Signals) -> None:
    """SIGHUP (the terminal closed) killed ``iokit explore --kernel`` mid-request (status
    129), where ``iokit kernel`` stops in order on it."""
    proc = explore(tmp_path, "--kernel", str(tmp_path / "none.sock"))
    read_lines(proc, 1, tmp_path / "explore.log")
    assert interrupt(proc, sig) == 0


@pytest.mark.parametrize(("args", "reference"), [
    (["--machine", "default", "--kernel", "/tmp/k.sock"], "explore-conflicting-options"),
    (["--http", "99999"], "explorer-bad-address"),
    (["--http", "[::1"], "explorer-bad-address"),
])
def test_wrong_options_are_diagnostics(args: list[str], reference: str) -> None:
    done = subprocess.run([sys.executable, "-m", "iokit_host", "explore", "--no-open", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert f"error[{reference}]" in done.stderr and "Traceback" not in done.stderr
