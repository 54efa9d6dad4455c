// The explorer page: the plane chooser, the tree, search, the tabs of the selected entry, and
// live updates from the kernel (server-sent events on /api/live).

import { el, clear, getJSON, postJSON } from "./api.js";
import { renderEntry, renderGone } from "./inspector.js";
import { renderMatching } from "./matching.js";
import { renderPower } from "./power.js";
import { MAX_DEPTH, RegistryTree } from "./tree.js";

const FLASH_MS = 2500;
const LOG_LINES = 200;

const state = { meta: null, plane: "IOService", selected: null, tab: "properties",
                flash: new Map(), shown: 0 };
const $ = (id) => document.getElementById(id);
const tree = new RegistryTree($("tree"), (id) => select(id));

function setStatus(text, kind = "ok") {
  const status = $("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

function log(text, kind) {
  const list = $("log");
  list.prepend(el("li", { class: `log-${kind}`, text }));
  while (list.children.length > LOG_LINES) list.lastChild.remove();
}

function showError(panel, error) {
  clear(panel);
  panel.append(el("p", { class: "error", role: "alert", text: error.message }));
}

// -- the plane and the tree --------------------------------------------------------------
async function loadPlane() {
  const wanted = state.plane;
  const plane = await getJSON(`/api/planes/${encodeURIComponent(wanted)}`);
  if (wanted !== state.plane) return; // another plane was chosen meanwhile: its answer wins
  if (plane.generation < state.shown) return; // an older answer overtaken by a newer one
  state.shown = plane.generation;
  tree.render(plane, state.flash);
}

async function start() {
  let meta;
  try {
    meta = await getJSON("/api/meta");
  } catch (error) {
    setStatus(`cannot read the kernel: ${error.message}`, "error");
    // Listened to all the same: the stream says when the kernel is back, and the page starts
    // then (it stayed on this error for good, however soon the kernel came).
    listen();
    return;
  }
  if (state.meta !== null) return; // a second start, racing the first: the first shows it
  state.meta = meta;
  $("machine").textContent = state.meta.machine ?? "";
  const chooser = $("plane");
  for (const plane of state.meta.planes) chooser.append(el("option", { value: plane, text: plane }));
  const wanted = new URLSearchParams(location.hash.slice(1));
  if (state.meta.planes.includes(wanted.get("plane"))) state.plane = wanted.get("plane");
  chooser.value = state.plane;
  chooser.addEventListener("change", async () => {
    state.plane = chooser.value;
    try {
      await loadPlane();
    } catch (error) { // said in the status line, not an uncaught error
      setStatus(`cannot show the ${state.plane} plane: ${error.message}`, "error");
      return;
    }
    if (state.selected !== null) tree.reveal(state.selected);
  });
  await loadPlane();
  setStatus(`live: ${state.meta.entries} entries`);
  const id = Number(wanted.get("entry"));
  if (wanted.get("entry") && Number.isSafeInteger(id)) tree.reveal(id);
  listen();
}

// -- the selected entry --------------------------------------------------------------------
async function select(id) {
  state.selected = id;
  history.replaceState(null, "", `#plane=${encodeURIComponent(state.plane)}&entry=${id}`);
  await showTab(state.tab);
}

function entryActions(entry) {
  if (!state.meta.allow_events || !entry.paths.IOService || !entry.state) return null;
  const unplug = el("button", { type: "button", class: "danger", text: "Unplug" });
  unplug.addEventListener("click", () => apply([{ action: "unplug", path: entry.paths.IOService }]));
  return el("div", { class: "actions", role: "group", "aria-label": "Events" }, unplug);
}

function powerActions() {
  if (!state.meta.allow_events) return null;
  const group = el("div", { class: "actions", role: "group", "aria-label": "Events" });
  for (const [name, events] of [["Sleep", [{ action: "sleep" }]],
                                ["Wake", [{ action: "wake" }]]]) {
    const button = el("button", { type: "button", text: name });
    button.addEventListener("click", () => apply(events));
    group.append(button);
  }
  return group;
}

async function apply(events) {
  try {
    const result = await postJSON("/api/events", { events });
    for (const line of result.lines) log(line, "event");
    for (const problem of result.diagnostics) log(`${problem.reference}: ${problem.message}`, "error");
  } catch (error) {
    log(error.message, "error");
  }
}

async function showTab(name) {
  state.tab = name;
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !on;
  }
  const panel = $(`panel-${name}`);
  const id = state.selected;
  try {
    if (name === "power") {
      renderPower(panel, await getJSON("/api/power"), powerActions());
    } else if (id === null) {
      return;
    } else if (name === "properties") {
      const entry = await getJSON(`/api/entries/${id}`);
      if (state.selected === id) renderEntry(panel, entry, entryActions(entry));
    } else if (name === "matching") {
      const picture = await getJSON(`/api/match/${id}`);
      if (state.selected === id) renderMatching(panel, picture);
    }
  } catch (error) {
    if (error.reference === "explorer-no-such-entry") renderGone(panel, id);
    else showError(panel, error);
  }
}

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => showTab(tab.id.replace("tab-", "")));
  tab.addEventListener("keydown", (event) => {
    const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
    const at = tabs.indexOf(tab);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(at + step + tabs.length) % tabs.length];
    next.focus();
    showTab(next.id.replace("tab-", ""));
  });
}

// -- search ------------------------------------------------------------------------------------
$("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = $("query").value.trim();
  const results = $("results");
  clear(results);
  if (!query) { results.hidden = true; return; }
  results.hidden = false;
  try {
    const found = await getJSON(`/api/search?q=${encodeURIComponent(query)}`
                                + `&field=${encodeURIComponent($("field").value)}`);
    results.append(el("h2", { text: `${found.total} match${found.total === 1 ? "" : "es"} `
                                    + `for “${found.query}”` }));
    const list = el("ul", { class: "hits" });
    for (const hit of found.hits) {
      const button = el("button", { type: "button", class: "hit" },
        el("span", { class: "name", text: hit.label }), el("span", { class: "class", text: hit.class }),
        el("span", { class: "why", text: hit.why }));
      button.addEventListener("click", async () => {
        await started; // a result chosen before the first tree arrived is revealed in it
        const shown = tree.reveal(hit.id);
        if (!shown) log(`${hit.label} is not in the ${state.plane} plane`, "error");
        else if (shown === "deep") {
          log(`${hit.label} lies below the ${MAX_DEPTH} levels the tree draws: `
              + "it is shown beside the tree", "error");
        }
      });
      list.append(el("li", {}, button));
    }
    results.append(list);
  } catch (error) {
    showError(results, error);
  }
});

// -- live updates --------------------------------------------------------------------------------
let listening = false;

function listen() {
  if (listening) return;
  listening = true;
  const source = new EventSource("/api/live");
  source.addEventListener("changes", async (event) => {
    if (state.meta === null) { await restart(); return; }
    const changes = JSON.parse(event.data);
    for (const entry of changes.added) { state.flash.set(String(entry.id), "added"); log(`+ ${entry.label}`, "added"); }
    for (const entry of changes.changed) { state.flash.set(String(entry.id), "changed"); }
    for (const entry of changes.removed) log(`− ${entry.label} left the registry`, "removed");
    if (changes.changed.length) log(`${changes.changed.length} entr${changes.changed.length === 1 ? "y" : "ies"} changed`, "changed");
    setTimeout(() => { state.flash.clear(); for (const item of document.querySelectorAll(".flash")) item.classList.remove("flash", "flash-added", "flash-changed"); }, FLASH_MS);
    await refresh(changes);
  });
  source.addEventListener("resync", () => (state.meta === null ? restart() : refresh(null)));
  source.addEventListener("gone", (event) => {
    setStatus(`kernel gone: ${JSON.parse(event.data).message}`, "error");
  });
  source.addEventListener("open", () => setStatus("live"));
  source.addEventListener("error", () => setStatus("reconnecting…", "error"));
}

async function refresh(changes) {
  setStatus(`live: generation ${changes ? changes.generation : "?"}`);
  await loadPlane();
  const id = state.selected;
  if (id === null) { if (state.tab === "power") await showTab("power"); return; }
  const touched = !changes || [...changes.changed, ...changes.removed].some((e) => e.id === id);
  if (touched || state.tab === "power") await showTab(state.tab);
}

// A start that failed begins again when the kernel is back.
const restart = () => start().catch((error) => setStatus(`cannot read the kernel: ${error.message}`,
                                                         "error"));
// Settles once the first tree is shown or could not be (a search may be answered before it).
const started = restart();
