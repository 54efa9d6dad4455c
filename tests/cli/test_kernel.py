"""``iokit kernel``: operator input it cannot use stops it before it listens, with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _kernel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iokit_host", "kernel", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "IOKIT_NO_CACHE": "1"})


def test_an_unreadable_entitlement_policy_stops_the_kernel(tmp_path: Path) -> None:
    policy = tmp_path / "entitlements.toml"
    policy.write_text("[entitlements\n", encoding="utf-8")
    result = _kernel("--entitlements", str(policy), "--socket", str(tmp_path / "k.sock"))
    assert result.returncode == 1
    assert "entitlement-policy-invalid" in result.stderr and str(policy) in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr


def test_an_unknown_group_stops_the_kernel(tmp_path: Path) -> None:
    result = _kernel("--group", "no-such-group-here", "--socket", str(tmp_path / "k.sock"))
    assert result.returncode == 1 and "no group named" in result.stderr
    assert result.stdout == ""


def test_strict_does_not_serve_a_boot_with_failures(tmp_path: Path) -> None:
    plist = tmp_path / "Info.plist"
    plist.write_text("not a property list", encoding="utf-8")
    result = _kernel("--strict", "--kext", str(plist), "--socket", str(tmp_path / "k.sock"))
    assert result.returncode == 1 and result.stdout == ""
    assert "manifest-unreadable" in result.stderr
    assert not (tmp_path / "k.sock").exists()


def test_a_closed_stdout_does_not_stop_the_kernel(tmp_path: Path) -> None:
    """``iokit kernel | head -0``: the ready line cannot be written; the kernel says so on
    its log, with the line, and serves; SIGTERM still stops it in order and removes the
    socket."""
    import signal

    from iokit_sdk.iokitlib import MainPort

    socket_path = tmp_path / "k.sock"
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read the kernel's stdout
    proc = subprocess.Popen([sys.executable, "-m", "iokit_host", "kernel", "--socket",
                             str(socket_path)], stdout=writer, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "IOKIT_NO_CACHE": "1"})
    os.close(writer)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the kernel's log, as it comes (boot diagnostics first)
            if line.startswith("iokit kernel: stdout is closed ("):
                break
        else:
            raise AssertionError(f"the kernel exited ({proc.wait()}) without serving")
        assert line.rstrip().endswith(f"listening on {socket_path}")
        with MainPort(str(socket_path)) as port:
            assert port.request("no-such-op")["ret"] == 0xE00002C7  # served all the same
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert "shut down:" in proc.stderr.read()
        assert not socket_path.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
