"""The explorer is a client of the kernel's socket: it never imports the host or the work loop,
so no web-server thread can touch a registry; the kernel's refusals reach it as diagnostics."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from explorerkit import Explorer
from iokit_sdk.messages import kIOMessageSystemWillSleep
from kernelkit import ANSWERING_PROGRAM, KernelFactory, start_program, stop_program

import iokit_host.explorer
from iokit_host.explorer.bridge import BridgeError, KernelBridge

PACKAGE = Path(iokit_host.explorer.__file__).parent
FORBIDDEN = ("iokit_host.host", "iokit_host.kernel.workloop", "iokit_host.server.frontend",
             "iokit_host.server.requests")


def test_no_explorer_module_imports_the_host_or_the_work_loop() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_the_page_ships_as_plain_files_without_a_build_step() -> None:
    static = {p.name for p in (PACKAGE / "static").iterdir()}
    assert {"index.html", "app.js", "style.css"} <= static
    assert not {"package.json", "node_modules"} & static
    page = (PACKAGE / "static" / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="/static/app.js">' in page
    for script in (PACKAGE / "static").glob("*.js"):
        assert ".innerHTML" not in script.read_text(encoding="utf-8"), script.name


def test_a_kernel_that_is_not_there_is_a_diagnostic_naming_the_socket(tmp_path: Path) -> None:
    bridge = KernelBridge(str(tmp_path / "none.sock"))
    with pytest.raises(BridgeError) as raised:
        bridge.snapshot()
    assert raised.value.ref == "kernel-unreachable"
    assert raised.value.diagnostic.file == str(tmp_path / "none.sock")


def test_the_kernels_own_refusal_comes_back_with_its_reference(explorer: Explorer) -> None:
    bridge = KernelBridge(explorer.socket)
    try:
        with pytest.raises(BridgeError) as raised:
            bridge.explain(0xDEAD)
        assert raised.value.ref != "kernel-unreachable"
        assert "no service with registry entry id 0xdead" in str(raised.value)
        assert bridge.snapshot()["entries"]  # the connection goes on after a refusal
    finally:
        bridge.close()


def test_events_after_a_sleep_a_program_answers_apply_once_it_has(
        kernel_factory: KernelFactory) -> None:
    kernel = kernel_factory.start()
    program = start_program(kernel.path, ANSWERING_PROGRAM, "registered")
    bridge = KernelBridge(kernel.path)
    try:
        applied = bridge.apply([{"action": "sleep"}, {"action": "wake"},
                                {"action": "bogus"}], source="<page>")
        assert program.stdout is not None
        told = program.stdout.readline().strip()
    finally:
        bridge.close()
        stop_program(program)
    assert [line.split("] ", 1)[1] for line in applied["lines"]] == [
        "sleep (Software Sleep): asleep", "wake (User Activity): awake"]
    assert told == f"told {kIOMessageSystemWillSleep:#x}"
    # The damaged event after the wait is still numbered as the page sent it.
    assert [(d["reference"], d["key"]) for d in applied["diagnostics"]] == [
        ("scenario-invalid", "event[2].action")]
