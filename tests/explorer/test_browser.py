"""The explorer in a real browser: Chromium (Debian's package) driven by Playwright, finding
entries by ARIA role and name as a screen reader does, on a real ``iokit kernel --http``
changed by real ``iokit event`` processes. Skipped, saying why, where no browser is installed.
"""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from explorerkit import (
    Explorer,
    ExplorerFactory,
    entry_id,
    explore_kernel,
    iokit,
    machine_model,
    nub,
    write_events,
)
from kernelkit import KernelFactory, short_dir

playwright = pytest.importorskip(
    "playwright.sync_api",
    reason="the browser tests need the playwright package (pip install -e '.[test]')")

CHROMIUM = os.environ.get("IOKIT_CHROMIUM") or next(
    (found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium installed (apt-get install chromium, or set "
                             "IOKIT_CHROMIUM to a Chromium binary)")
#: Flags that work in a container as root, without a GPU or a network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: How long an expectation waits for the page (a loaded CI machine is slow; never a sleep).
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    playwright.expect.set_options(timeout=WAIT_MS)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the page raised: {errors}"


def treeitem(page: Any, name: str) -> Any:
    """The tree item whose accessible name starts with ``name`` (``ARPT@0, IOPCIDevice``)."""
    tree = page.get_by_role("tree", name="IOService plane")
    return tree.get_by_role("treeitem", name=re.compile(rf"^{re.escape(name)}\b"))


def select(item: Any) -> None:
    item.locator(":scope > .row .name").click()
    playwright.expect(item).to_have_attribute("aria-selected", "true")


def test_the_wifi_card_its_data_its_matching_picture_and_its_unplug_without_a_reload(
        page: Any, explorer_factory: ExplorerFactory, tmp_path: Path) -> None:
    """The issue's "done when", step by step."""
    expect = playwright.expect
    explorer = explorer_factory.start()
    page.goto(explorer.url)
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    arpt = treeitem(page, "ARPT@0")
    expect(arpt).to_have_count(1)
    select(arpt)
    vendor = page.get_by_role("table", name="Properties").get_by_role(
        "row", name=re.compile(r"^vendor-id\b"))
    expect(vendor.locator(".type")).to_have_text("Data (4 bytes)")
    expect(vendor.locator(".value")).to_have_text("<e4140000>")

    page.get_by_role("tab", name="Matching").click()
    picture = page.get_by_role("tabpanel", name="Matching")
    competing = picture.get_by_role("table", name="Competing personalities")
    winner = competing.get_by_role("row", name="AppleBCM43xx started")
    expect(winner).to_contain_text("winner")
    expect(winner.locator(".score-value")).to_have_text("5000")
    for io_class, score in (("IOWLANDriver", "1500"), ("ThirdPartyWiFiKext", "600"),
                            ("IOPCIDeviceGeneric", "100")):
        loser = competing.get_by_role("row", name=f"{io_class} lost")
        expect(loser.locator(".score-value")).to_have_text(score)
        expect(loser).to_contain_text("lost to com.example.driver.BCM43xx AppleBCM43xx")
    expect(picture.get_by_role("list", name="Lifecycle steps").first).to_contain_text(
        "✓ start")

    events = write_events(tmp_path, "unplug.toml",
                          '[[event]]\naction = "unplug"\npath = "ARPT"\n')
    applied = iokit("event", events, "--kernel", explorer.socket)
    assert applied.returncode == 0, applied.stderr
    expect(arpt).to_have_count(0)
    expect(page.get_by_role("log", name="Changes")).to_contain_text(
        "ARPT@0 (IOPCIDevice) left the registry")
    expect(picture.get_by_role("alert")).to_contain_text("has left the registry")
    assert page.evaluate("window.loadedOnce") is True


def test_a_plugged_nub_appears_highlighted_and_its_html_is_shown_as_text(
        page: Any, explorer: Explorer, tmp_path: Path) -> None:
    expect = playwright.expect
    page.goto(explorer.url)
    expect(treeitem(page, "ARPT@0")).to_have_count(1)
    hostile = '<img src=x onerror="window.pwned=1">'
    events = write_events(tmp_path, "plug.toml", (
        '[[event]]\naction = "plug"\nparent = "AppleACPIPlatformExpert"\n'
        '[event.nub]\nclass = "IOACPIPlatformDevice"\nname = "HOTP"\nlocation = "7"\n'
        f"[event.nub.properties]\nmodel = '{hostile}'\n"))
    applied = iokit("event", events, "--kernel", explorer.socket)
    assert applied.returncode == 0, applied.stderr
    plugged = treeitem(page, "HOTP@7")
    expect(plugged).to_have_class(re.compile(r"\bflash-added\b"))
    expect(page.get_by_role("log", name="Changes")).to_contain_text("+ HOTP@7")
    select(plugged)
    model = page.get_by_role("table", name="Properties").get_by_role(
        "row", name=re.compile(r"^model\b"))
    expect(model.locator(".value")).to_have_text(f'"{hostile}"')
    assert page.locator(".properties img").count() == 0
    assert page.evaluate("window.pwned") is None
    unplug = write_events(tmp_path, "unplug.toml",
                          '[[event]]\naction = "unplug"\npath = "HOTP@7"\n')
    assert iokit("event", unplug, "--kernel", explorer.socket).returncode == 0
    expect(plugged).to_have_count(0)


def choose_search_result(page: Any, text: str, result: str, field: str = "class") -> None:
    """Search the classes (or ``field``) for ``text`` and click the result named ``result``."""
    search = page.get_by_role("search", name="Search the registry")
    search.get_by_role("searchbox").fill(text)
    search.get_by_role("combobox", name="Search in").select_option(field)
    search.get_by_role("button", name="Search").click()
    results = page.get_by_role("region", name="Search results")
    results.get_by_role("button", name=re.compile(re.escape(result))).click()


def test_search_by_class_reveals_the_driver_in_the_tree(page: Any, explorer: Explorer) -> None:
    expect = playwright.expect
    page.goto(explorer.url)
    choose_search_result(page, "applebcm", "AppleBCM43xx")
    expect(treeitem(page, "AppleBCM43xx")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("heading", name="AppleBCM43xx")).to_be_visible()


def test_a_search_result_chosen_before_the_tree_arrived_is_revealed_once_it_has(
        page: Any, explorer: Explorer) -> None:
    """A slow machine answered the search before the tree: the click was lost (the result
    said the entry was not in the plane, and nothing was selected)."""
    expect = playwright.expect
    held: list[Any] = []
    # The tree's answer waits until the result was chosen.
    page.route("**/api/planes/IOService", lambda route: held.append(route))
    with page.expect_request("**/api/planes/IOService"):
        page.goto(explorer.url)
    choose_search_result(page, "applebcm", "AppleBCM43xx")
    expect(treeitem(page, "Root")).to_have_count(0)  # no tree yet
    (route,) = held
    route.continue_()
    expect(treeitem(page, "AppleBCM43xx")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("is not in the IOService plane")).to_have_count(0)


def test_the_tree_works_from_the_keyboard(page: Any, explorer: Explorer) -> None:
    expect = playwright.expect
    page.goto(explorer.url)
    root = treeitem(page, "Root")
    expect(root).to_have_attribute("tabindex", "0")
    root.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    platform = treeitem(page, "MacBookPro8,2")
    expect(platform).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")  # close it: its children leave the visible tree
    expect(platform).to_have_attribute("aria-expanded", "false")
    expect(treeitem(page, "ARPT@0")).to_be_hidden()
    page.keyboard.press("ArrowRight")
    expect(treeitem(page, "ARPT@0")).to_be_visible()


def test_another_plane_is_a_tree_of_its_own(page: Any, explorer: Explorer) -> None:
    expect = playwright.expect
    page.goto(explorer.url)
    page.get_by_role("combobox", name="Plane").select_option("IOPower")
    power_tree = page.get_by_role("tree", name="IOPower plane")
    expect(power_tree.get_by_role("treeitem", name=re.compile(r"^IOPMrootDomain\b"))
           ).to_have_count(1)


def test_the_power_tab_marks_the_tardy_driver(page: Any, explorer_factory: ExplorerFactory,
                                             tmp_path: Path) -> None:
    expect = playwright.expect
    explorer = explorer_factory.start()
    events = write_events(tmp_path, "sleep.toml",
                          '[[event]]\naction = "sleep"\n\n[[event]]\naction = "wake"\n')
    assert iokit("event", events, "--kernel", explorer.socket).returncode == 0
    page.goto(explorer.url)
    page.get_by_role("tab", name="Power").click()
    timeline = page.get_by_role("tabpanel", name="Power")
    sleep = timeline.get_by_role("region", name=re.compile(r"^Sleep at "))
    late = sleep.get_by_role("row", name=re.compile(r"TardyAudio"))
    expect(late).to_contain_text("tardy")
    expect(late).to_contain_text("1 → 0")
    expect(late.locator("td.num").last).to_have_text(re.compile(r"^10\d{3}\.\d ms$"))
    expect(timeline.get_by_role("note")).to_contain_text("Tardy:")
    assert explorer.stop() == 0


def test_with_events_allowed_the_page_unplugs_the_selected_service(
        page: Any, explorer_factory: ExplorerFactory) -> None:
    expect = playwright.expect
    explorer = explorer_factory.start("--allow-events")
    page.goto(explorer.url)
    arpt = treeitem(page, "ARPT@0")
    select(arpt)
    page.get_by_role("group", name="Events").get_by_role("button", name="Unplug").click()
    expect(arpt).to_have_count(0)
    expect(page.get_by_role("log", name="Changes")).to_contain_text("unplugged IOService:/")
    assert explorer.stop() == 0


def test_a_read_only_explorer_offers_no_events(page: Any, explorer: Explorer) -> None:
    expect = playwright.expect
    page.goto(explorer.url)
    select(treeitem(page, "ARPT@0"))
    expect(page.get_by_role("table", name="Properties")).to_be_visible()
    expect(page.get_by_role("button", name="Unplug")).to_have_count(0)


#: Markup that runs script wherever a registry string reaches the page as HTML.
HOSTILE = '<img src=x onerror="window.pwned=1"></script><svg onload="window.pwned=2">'
#: Its start, for Playwright's name patterns (which cannot hold its "/").
SHOWN = '<img src=x onerror="window.pwned'
#: Deeper than the page could nest elements before (Chromium's renderer crashed from ~1,500).
CHAIN = 2000
#: More children than the tree draws at once (1,000 a page).
WIDE = 2500


@pytest.fixture(scope="module")
def hostile(explorer_factory: ExplorerFactory, tmp_path_factory: pytest.TempPathFactory
            ) -> Explorer:
    """A machine from an untrusted model: markup in a name, location, key and value, a chain
    of entries :data:`CHAIN` deep, and an entry with :data:`WIDE` children."""
    chain = [nub(f"d{level}", f"d{level - 1}" if level else "platform", f"d{level}")
             for level in range(CHAIN)]
    model = machine_model(tmp_path_factory.mktemp("hostile-machine") / "hostile.toml", [
        nub("h", "platform", HOSTILE, location=HOSTILE,
            properties={HOSTILE: HOSTILE, "big": "x" * (1 << 20)}),
        *chain, nub("wide", "platform", "wide"),
        *(nub(f"c{i}", "wide", f"c{i}", location=str(i)) for i in range(WIDE))])
    return explorer_factory.start("--machine", str(model))


def test_markup_in_names_keys_and_values_is_shown_as_text(page: Any, hostile: Explorer
                                                          ) -> None:
    expect = playwright.expect
    page.goto(hostile.url)
    choose_search_result(page, "onerror", "onerror", field="name")
    expect(page.locator("#entry-title")).to_have_text(f"{HOSTILE}@{HOSTILE}")
    row = page.get_by_role("table", name="Properties").get_by_role(
        "row", name=re.compile(f"^{re.escape(SHOWN)}"))
    expect(row.locator(".value")).to_have_text(f'"{HOSTILE}"')
    expect(treeitem(page, SHOWN)).to_have_attribute("aria-selected", "true")
    big = page.get_by_role("table", name="Properties").get_by_role(
        "row", name=re.compile(r"^big\b"))  # a megabyte: its start, and its length
    expect(big.locator(".type")).to_have_text(f"String ({1 << 20} characters)")
    expect(big.locator(".value")).to_have_text(f'"{"x" * 8192}…"')
    assert page.locator("img, svg").count() == 0
    assert page.evaluate("window.pwned") is None


def test_a_chain_deeper_than_the_tree_draws_neither_crashes_the_page_nor_hides_its_end(
        page: Any, hostile: Explorer) -> None:
    """A link to the deepest entry opened the tree 2,000 levels down and crashed the tab."""
    expect = playwright.expect
    deepest = entry_id(hostile, f"d{CHAIN - 1}")
    page.goto(f"{hostile.url}#plane=IOService&entry={deepest}")
    expect(page.get_by_role("heading", name=f"d{CHAIN - 1}")).to_be_visible()
    tree = page.get_by_role("tree", name="IOService plane")
    expect(tree).to_contain_text("1 child below the 256 levels drawn: search for them")
    expect(treeitem(page, "d253")).to_be_visible()  # level 256: the root, Plat, d0...
    expect(treeitem(page, "d254")).to_have_count(0)

    choose_search_result(page, f"d{CHAIN // 2}", f"d{CHAIN // 2}", field="name")
    expect(page.get_by_role("heading", name=f"d{CHAIN // 2}", exact=True)).to_be_visible()
    expect(page.get_by_role("log", name="Changes")).to_contain_text(
        f"d{CHAIN // 2} lies below the 256 levels the tree draws: it is shown beside the tree")
    page.keyboard.press("End")  # the page still answers
    choose_search_result(page, "d200", "d200", field="name")
    expect(treeitem(page, "d200")).to_have_attribute("aria-selected", "true")


def test_an_entry_with_thousands_of_children_draws_them_a_page_at_a_time(
        page: Any, hostile: Explorer) -> None:
    """100,000 children of one entry took the page 15 seconds to draw, at every change."""
    expect = playwright.expect
    page.goto(hostile.url)
    wide = treeitem(page, "wide")
    wide.locator(":scope > .row .twisty").click()
    drawn = wide.locator(':scope > [role="group"] > [role="treeitem"]')
    expect(drawn).to_have_count(1001)
    more = wide.get_by_role("treeitem", name="1500 more: show 1000 more")
    more.focus()
    page.keyboard.press("Enter")
    expect(drawn).to_have_count(2001)
    expect(treeitem(page, "c1000")).to_be_focused()
    choose_search_result(page, "c2400", "c2400", field="name")  # drawn after the row
    expect(treeitem(page, "c2400")).to_have_attribute("aria-selected", "true")
    expect(wide.get_by_role("treeitem", name="499 more: show 499 more")).to_have_count(1)
    wide.get_by_role("treeitem", name="499 more: show 499 more").click()
    expect(drawn).to_have_count(WIDE)


def test_a_kext_of_hundreds_of_personalities_shows_the_best_and_counts_the_rest(
        page: Any, explorer_factory: ExplorerFactory, tmp_path: Path) -> None:
    """20,000 personalities for one class made the matching tab 7 MB and 3 s to draw."""
    expect = playwright.expect
    personalities = {f"P{i}": {
        "CFBundleIdentifier": "com.hostile.many", "IOClass": f"<b>C{i}</b>",
        "IOProviderClass": "IOPCIDevice", "IOProbeScore": i,
        "IOPCIMatch": "0x000014e4&0x0000ffff" if i % 2 else "0xdead0000&0xffff0000"}
        for i in range(600)}
    info = tmp_path / "Info.plist"
    info.write_bytes(plistlib.dumps({
        "CFBundleIdentifier": "com.hostile.many", "CFBundleName": "many",
        "CFBundleVersion": "1.0", "CFBundlePackageType": "KEXT",
        "IOKitPersonalities": personalities}))
    explorer = explorer_factory.start("--kext", str(info))
    page.goto(explorer.url)
    select(treeitem(page, "ARPT@0"))
    page.get_by_role("tab", name="Matching").click()
    picture = page.get_by_role("tabpanel", name="Matching")
    competing = picture.get_by_role("table", name="Competing personalities")
    expect(competing.get_by_role("row", name="AppleBCM43xx started")).to_contain_text("winner")
    expect(competing.locator("tbody tr")).to_have_count(200)
    expect(picture).to_contain_text("more personalities competed with lower scores: not shown")
    # the default machine's own personality that does not match ARPT, and the kext's 300
    expect(picture.locator("summary")).to_have_text("301 personalities of this class did not match")
    expect(picture.locator(".unmatched li").last).to_have_text("101 more not shown")
    expect(competing.get_by_role("row", name="<b>C599</b> lost")).to_have_count(1)
    assert page.locator("b").count() == 0


def test_a_plane_whose_name_holds_a_slash_or_markup_is_a_tree_of_its_own(
        page: Any, explorer_factory: ExplorerFactory, tmp_path: Path) -> None:
    """A plane named "A/B" (a dump's) was 404 Not Found: its tree never came."""
    expect = playwright.expect
    model = tmp_path / "planes.toml"
    model.write_text(f'[machine]\nname = "planes"\nplanes = ["A/B", {json.dumps(HOSTILE)}]\n'
                     '\n[[nub]]\nid = "platform"\nclass = "IOPlatformExpertDevice"\n'
                     'name = "Plat"\n', encoding="utf-8")
    explorer = explorer_factory.start("--machine", str(model))
    page.goto(explorer.url)
    for plane in ("A/B", HOSTILE):
        page.get_by_role("combobox", name="Plane").select_option(plane)
        tree = page.get_by_role("tree", name=f"{plane} plane")
        expect(tree.get_by_role("treeitem", name=re.compile(r"^Root\b"))).to_have_count(1)
    assert page.evaluate("window.pwned") is None


def test_a_page_opened_while_the_kernel_is_gone_says_so_and_shows_it_once_it_is_back(
        page: Any, kernel_factory: KernelFactory, tardy_dist: Path, tmp_path: Path) -> None:
    """The page stayed on "cannot read the kernel" for good, however soon the kernel came."""
    expect = playwright.expect
    kernel_path = os.path.join(short_dir(), "k.sock")
    explorer = explore_kernel(kernel_path, tardy_dist, tmp_path / "explore.log")
    try:
        page.goto(explorer.url)
        status = page.get_by_role("status", name="Connection")
        expect(status).to_contain_text(re.compile("kernel gone|cannot read the kernel"))
        kernel_factory.start(path=kernel_path)
        expect(treeitem(page, "ARPT@0")).to_have_count(1)
        expect(status).to_contain_text("live")
    finally:
        explorer.stop()
