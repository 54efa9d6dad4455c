"""Remake docs/images/explorer-*.png: the explorer on the default machine, in Debian's Chromium.

Starts ``iokit kernel --http`` with the browser tests' tardy-audio kext (tests/explorer/kext),
hot-plugs an Ethernet nub (the tree, highlighted), opens the Wi-Fi card's matching picture, and
sleeps and wakes the machine (the power timeline, its tardy driver marked). Needs the ``test``
extra (playwright) and ``chromium``::

    python scripts/explorer_screenshots.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from explorerkit import EXPLORER, install_tardy_kext, read_lines
from kernelkit import kernel_env
from playwright.sync_api import expect, sync_playwright

OUT = ROOT / "docs" / "images"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PLUG = """[[event]]
action = "plug"
parent = "IOPCI2PCIBridge"
[event.nub]
class = "IOPCIDevice"
name = "ETH1"
location = "1"
[event.nub.properties]
vendor-id = { le32 = 0x14e4 }
device-id = { le32 = 0x16b4 }
"""
SLEEP_AND_WAKE = """[[event]]
action = "sleep"

[[event]]
action = "advance"
ms = 3000

[[event]]
action = "wake"
reason = "Lid Open"
"""


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="shots", dir="/tmp"))
    env = kernel_env(install_tardy_kext(work / "kexts"))
    socket_path, log = str(work / "k.sock"), work / "kernel.log"
    with open(log, "wb") as stderr:
        kernel = subprocess.Popen([sys.executable, "-m", "iokit_host", "kernel", "--socket",
                                   socket_path, "--http", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=stderr, env=env)

    def event(text: str) -> None:
        scenario = work / "events.toml"
        scenario.write_text(text, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "iokit_host", "event", str(scenario), "--kernel",
                        socket_path], check=True, capture_output=True, env=env)

    try:
        _, served = read_lines(kernel, 2, log)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860})
            page.goto(served.removeprefix(EXPLORER))
            arpt = page.get_by_role("treeitem", name=re.compile(r"^ARPT@0"))
            expect(arpt).to_have_count(1)
            event(PLUG)
            eth1 = page.get_by_role("treeitem", name=re.compile(r"^ETH1@1"))
            expect(eth1).to_have_class(re.compile("flash-added"))
            eth1.locator(":scope > .row .name").click()
            page.get_by_role("heading", name="ETH1@1").wait_for()
            page.screenshot(path=str(OUT / "explorer-tree.png"))
            arpt.locator(":scope > .row .name").click()
            page.get_by_role("heading", name="ARPT@0").wait_for()
            page.get_by_role("tab", name="Matching").click()
            page.get_by_role("table", name="Competing personalities").wait_for()
            page.screenshot(path=str(OUT / "explorer-matching.png"))
            event(SLEEP_AND_WAKE)
            page.get_by_role("tab", name="Power").click()
            page.get_by_role("region", name=re.compile("^Sleep at")).wait_for()
            page.screenshot(path=str(OUT / "explorer-power.png"))
            browser.close()
    finally:
        kernel.terminate()
        kernel.wait()


if __name__ == "__main__":
    main()
