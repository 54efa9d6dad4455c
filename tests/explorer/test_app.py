"""The explorer's HTTP API, asked over a real socket of a real ``iokit kernel --http``: what the
page reads, and every hostile request refused with a clear 4xx diagnostic, never a traceback."""

from __future__ import annotations

import json
import socket
import urllib.parse
from pathlib import Path

import pytest
from explorerkit import Explorer, ExplorerFactory, entry_id, iokit, write_events


def test_meta_names_the_machine_its_planes_and_that_it_is_read_only(explorer: Explorer) -> None:
    status, meta = explorer.get("/api/meta")
    assert status == 200
    assert meta["machine"] == "default"
    assert {"IOService", "IOPower", "IODeviceTree", "IOACPIPlane"} <= set(meta["planes"])
    assert meta["allow_events"] is False
    assert meta["kernel"] == explorer.socket


def test_the_service_plane_is_a_tree_with_the_wifi_card_under_its_bridge(
        explorer: Explorer) -> None:
    status, tree = explorer.get("/api/planes/IOService")
    assert status == 200
    nodes = tree["nodes"]
    (bridge,) = [n for n in nodes.values() if n[0] == "IOPCI2PCIBridge"
                 and any(nodes[str(c)][0] == "ARPT" for c in n[3])]
    (arpt,) = [nodes[str(c)] for c in bridge[3] if nodes[str(c)][0] == "ARPT"]
    assert arpt[1:3] == ["0", "IOPCIDevice"]
    assert [nodes[str(c)][2] for c in arpt[3]] == ["AppleBCM43xx"]


def test_each_plane_of_the_registry_has_its_own_tree(explorer: Explorer) -> None:
    _, acpi = explorer.get("/api/planes/IOACPIPlane")
    _, service = explorer.get("/api/planes/IOService")
    assert acpi["root"] == service["root"]
    assert len(acpi["nodes"]) < len(service["nodes"])
    (pci0,) = [i for i, node in acpi["nodes"].items() if node[0] == "PCI0"]
    assert service["nodes"][pci0][0] == "PCI0"  # the same entry, linked otherwise
    assert acpi["nodes"][pci0][3] != service["nodes"][pci0][3]


def test_an_entry_has_typed_properties_its_class_chain_state_and_paths(
        explorer: Explorer) -> None:
    status, entry = explorer.get(f"/api/entries/{entry_id(explorer, 'ARPT')}")
    assert status == 200
    properties = dict(entry["properties"])
    assert properties["vendor-id"] == {"t": "data", "len": 4, "hex": "e4140000"}
    assert properties["IOChildIndex"]["t"] == "number"
    assert properties["IOChildIndex"]["bits"] == 32
    assert properties["IOName"] == {"t": "string", "v": "pci14e4,4331"}
    assert entry["chain"] == ["IORegistryEntry", "IOService", "IOPCIDevice"]
    assert entry["state"]["text"] == "registered, matched, active, busy 0"
    assert entry["paths"]["IOService"].endswith("/IOPCI2PCIBridge/ARPT@0")
    assert "IOPower" in entry["paths"]


def test_search_finds_entries_by_name_class_and_property(explorer: Explorer) -> None:
    _, by_class = explorer.get("/api/search?q=applebcm43&field=class")
    assert [h["class"] for h in by_class["hits"]] == ["AppleBCM43xx"]
    _, by_property = explorer.get("/api/search?q=IOFirmwareVersion&field=property")
    assert [h["class"] for h in by_property["hits"]] == ["AppleBCM43xx"]
    assert by_property["hits"][0]["why"] == "property IOFirmwareVersion"
    _, by_name = explorer.get("/api/search?q=arpt")
    assert [h["label"] for h in by_name["hits"]] == ["ARPT@0"]


def test_the_matching_picture_of_the_wifi_card(explorer: Explorer) -> None:
    status, picture = explorer.get(f"/api/match/{entry_id(explorer, 'ARPT')}")
    assert status == 200
    ids = dict(picture["nub"]["ids"])
    assert ids["vendor-id"]["hex"] == "e4140000" and ids["device-id"]["hex"] == "31430000"
    scores = [(c["class"], c["score"], c["outcome"]) for c in picture["candidates"]]
    assert scores == [("AppleBCM43xx", 5000, "started"), ("IOWLANDriver", 1500, "lost"),
                      ("ThirdPartyWiFiKext", 600, "lost"), ("IOPCIDeviceGeneric", 100, "lost")]
    winner, loser = picture["candidates"][0], picture["candidates"][1]
    assert [w["class"] for w in picture["winners"]] == ["AppleBCM43xx"]
    assert winner["steps"] == dict.fromkeys(("match", "init", "attach", "probe", "start"),
                                            "done")
    assert loser["steps"]["probe"] == "done" and loser["steps"]["start"] == "not reached"


def test_a_registry_entry_that_is_not_a_service_has_no_matching_picture(
        explorer: Explorer) -> None:
    _, tree = explorer.get("/api/planes/IOService")
    status, body = explorer.get(f"/api/match/{tree['root']}")
    assert status == 422
    assert body["error"]["reference"] == "explorer-not-a-nub"


@pytest.mark.parametrize(("path", "status", "reference"), [
    ("/api/entries/1", 404, "explorer-no-such-entry"),
    ("/api/match/1", 404, "explorer-no-such-entry"),
    ("/api/entries/abc", 400, "explorer-bad-id"),
    ("/api/entries/-4", 400, "explorer-bad-id"),
    ("/api/entries/1e9", 400, "explorer-bad-id"),
    ("/api/entries/" + "9" * 40, 400, "explorer-bad-id"),
    ("/api/match/%00", 400, "explorer-bad-id"),
    ("/api/planes/IOUSB", 404, "explorer-no-such-plane"),
    ("/api/planes/%3Cscript%3E", 404, "explorer-no-such-plane"),
    ("/api/search?q=" + "x" * 5000, 400, "explorer-query-too-long"),
    ("/api/search?q=", 400, "explorer-bad-search"),
    ("/api/search?q=%20%20", 400, "explorer-bad-search"),
    ("/api/search?q=ARPT&field=bogus", 400, "explorer-bad-search"),
    ("/api/search?q=ARPT&q=IOPCIDevice", 400, "explorer-bad-search"),
    ("/api/search?field=name&q=ARPT&field=class", 400, "explorer-bad-search"),
    ("/api/nothing", 404, "explorer-not-found"),
    ("/static/../iokit_host/explorer/app.py", 404, "explorer-not-found"),
    ("/static/%2e%2e/app.py", 404, "explorer-not-found"),
])
def test_a_hostile_request_gets_a_clear_4xx(explorer: Explorer, path: str, status: int,
                                            reference: str) -> None:
    got, body = explorer.get(path)
    assert got == status, body
    assert body["error"]["reference"] == reference
    assert "Traceback" not in explorer.stderr()


def test_a_request_line_of_a_megabyte_is_refused_and_the_explorer_goes_on(
        explorer: Explorer) -> None:
    status, _ = explorer.get("/api/search?q=" + "y" * (1 << 20))
    assert status == 400
    assert explorer.get("/api/meta")[0] == 200


def test_a_foreign_host_or_origin_is_refused(explorer: Explorer) -> None:
    status, body = explorer.get("/api/meta", headers={"Host": "attacker.example"})
    assert (status, body["error"]["reference"]) == (403, "explorer-host-refused")
    status, body = explorer.post("/api/events", b"{}", headers={
        "Origin": "http://attacker.example", "Content-Type": "application/json"})
    assert (status, body["error"]["reference"]) == (403, "explorer-origin-refused")
    # Another site on this machine (its port differs) is another origin.
    port = urllib.parse.urlsplit(explorer.url).port or 80
    status, body = explorer.post("/api/events", b"{}", headers={
        "Origin": f"http://127.0.0.1:{port + 1 if port != 65535 else 1}",
        "Content-Type": "application/json"})
    assert (status, body["error"]["reference"]) == (403, "explorer-origin-refused")
    status, body = explorer.post("/api/events", b"{}", headers={
        "Origin": explorer.url.rstrip("/"), "Content-Type": "application/json"})
    assert (status, body["error"]["reference"]) == (403, "explorer-read-only")  # its own page


def test_the_page_forbids_inline_scripts_and_framing(explorer: Explorer) -> None:
    import urllib.request

    with urllib.request.urlopen(explorer.url, timeout=30) as response:
        policy = response.headers["content-security-policy"]
        page = response.read().decode()
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cross-origin-resource-policy"] == "same-origin"
        assert "access-control-allow-origin" not in response.headers
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert 'role="tree"' in page


def test_events_are_refused_unless_allowed(explorer: Explorer) -> None:
    status, body = explorer.post("/api/events", b'{"events": [{"action": "unplug", '
                                 b'"path": "ARPT"}]}',
                                 headers={"Content-Type": "application/json"})
    assert (status, body["error"]["reference"]) == (403, "explorer-read-only")
    assert entry_id(explorer, "ARPT")  # still there


def test_the_power_view_marks_the_driver_that_answered_late(
        explorer_factory: ExplorerFactory, tmp_path: Path) -> None:
    running = explorer_factory.start()
    _, before = running.get("/api/power")
    assert before["tardy"] == []
    events = write_events(tmp_path, "sleep.toml", '[[event]]\naction = "sleep"\n\n'
                                                  '[[event]]\naction = "wake"\n')
    applied = iokit("event", events, "--kernel", running.socket)
    assert applied.returncode == 0, applied.stderr
    _, power = running.get("/api/power")
    assert [p["kind"] for p in power["phases"]] == ["boot", "system-sleep", "system-wake"]
    sleep = power["phases"][1]
    (late,) = [c for c in sleep["calls"] if c["tardy"]]
    assert late["class"] == "TardyAudio" and late["to"] == 0
    assert late["duration_ms"] >= 10_000
    assert power["tardy"] == [late["path"]]
    assert any(m["kind"] == "ack-timeout" for m in sleep["marks"])
    assert running.stop() == 0


@pytest.fixture(scope="module")
def writable(explorer_factory: ExplorerFactory) -> Explorer:
    """An explorer started with --allow-events."""
    return explorer_factory.start("--allow-events")


@pytest.mark.parametrize(("body", "headers", "status", "reference"), [
    (b"not json", {"Content-Type": "application/json"}, 400, "explorer-bad-body"),
    (b'{"events": 3}', {"Content-Type": "application/json"}, 400, "explorer-bad-body"),
    (b'[1, 2]', {"Content-Type": "application/json"}, 400, "explorer-bad-body"),
    (b"[" * 100_000, {"Content-Type": "application/json"}, 400, "explorer-bad-body"),
    (b'{"events": []}', {"Content-Type": "text/plain"}, 415, "explorer-bad-body"),
    (b" " * (2 << 20), {"Content-Type": "application/json"}, 413,
     "explorer-body-too-large"),
])
def test_a_bad_events_body_is_refused(writable: Explorer, body: bytes,
                                      headers: dict[str, str], status: int,
                                      reference: str) -> None:
    got, answer = writable.post("/api/events", body, headers=headers)
    assert (got, answer["error"]["reference"]) == (status, reference)


def test_a_damaged_event_is_reported_and_the_rest_applied(writable: Explorer) -> None:
    got, answer = writable.post(
        "/api/events", b'{"events": [{"action": "explode"}, {"action": "sleep"}, '
                       b'{"action": "wake"}]}',
        headers={"Content-Type": "application/json"})
    assert got == 200
    assert [d["reference"] for d in answer["diagnostics"]] == ["scenario-invalid"]
    assert any("asleep" in line for line in answer["lines"])


def test_an_unplug_from_the_page_takes_the_card_away(writable: Explorer) -> None:
    arpt = entry_id(writable, "ARPT")
    got, answer = writable.post(
        "/api/events", b'{"events": [{"action": "unplug", "path": "ARPT"}]}',
        headers={"Content-Type": "application/json"})
    assert got == 200, answer
    assert "unplugged ARPT" in answer["lines"][0]
    status, body = writable.get(f"/api/entries/{arpt}")
    assert (status, body["error"]["reference"]) == (404, "explorer-no-such-entry")


#: A name with markup, quotes, a '/', control characters and bidi and line separators.
HOSTILE = "<script>alert(1)</script>\"'</textarea>\x01\x1b[31m\u2028\u202e"


def test_hostile_names_and_properties_come_back_exactly_and_have_a_matching_picture(
        explorer_factory: ExplorerFactory) -> None:
    """The matching picture was looked up by path: a name holding '/' had none (404)."""
    running = explorer_factory.start("--allow-events")
    nub = {"class": "IOACPIPlatformDevice", "name": HOSTILE, "location": "</title>\x07",
           "properties": {f"<img src=x onerror=alert(1)>\x7f{HOSTILE}": HOSTILE}}
    body = json.dumps({"events": [{"action": "plug", "parent": "AppleACPIPlatformExpert",
                                   "nub": nub}]}).encode()
    got, answer = running.post("/api/events", body,
                               headers={"Content-Type": "application/json"})
    assert got == 200, answer
    status, tree = running.get("/api/planes/IOService")
    assert status == 200
    (found,) = [int(key) for key, node in tree["nodes"].items() if node[0] == HOSTILE]
    status, entry = running.get(f"/api/entries/{found}")
    assert status == 200, entry
    assert (entry["name"], entry["location"]) == (HOSTILE, "</title>\x07")
    assert [f"<img src=x onerror=alert(1)>\x7f{HOSTILE}", {"t": "string", "v": HOSTILE}] \
        in entry["properties"]
    status, hits = running.get("/api/search?q=" + urllib.parse.quote("</textarea>"))
    assert status == 200 and [hit["id"] for hit in hits["hits"]] == [found]
    status, matching = running.get(f"/api/match/{found}")
    assert status == 200, matching
    assert matching["nub"]["name"] == HOSTILE
    assert "Traceback" not in running.stderr()
    assert running.stop() == 0


def test_bound_to_the_network_it_answers_for_addresses_and_its_names_not_a_rebound_one(
        explorer_factory: ExplorerFactory) -> None:
    """Bound to 0.0.0.0 it answered for any host name: a page on attacker.example, its name
    rebound to this machine, read the registry (and sent events with --allow-events)."""
    explorer = explorer_factory.start("--http", "0.0.0.0:0")
    for host in ("attacker.example", "127.0.0.1.attacker.example"):
        status, body = explorer.get("/api/meta", headers={"Host": host})
        assert (status, body["error"]["reference"]) == (403, "explorer-host-refused"), host
    port = urllib.parse.urlsplit(explorer.url).port
    for host in ("192.0.2.7", "[2001:db8::1]", socket.gethostname(), "localhost"):
        status, body = explorer.get("/api/meta", headers={"Host": f"{host}:{port}"})
        assert status == 200, (host, body)
