// The selected entry, as IORegistryExplorer's inspector shows it: name, class chain, id,
// state, busy time, paths in each plane, and the typed property table.

import { el, clear, label } from "./api.js";
import { propertyRows } from "./values.js";

export function renderEntry(panel, entry, actions) {
  clear(panel);
  const title = label(entry.name, entry.location);
  panel.append(el("h2", { id: "entry-title", text: title }));
  const facts = el("dl", { class: "facts", "aria-label": "Entry facts" });
  const fact = (name, value) => facts.append(el("dt", { text: name }), el("dd", { text: value }));
  fact("Class", entry.class);
  fact("Class chain", entry.chain.join(" : "));
  fact("Registry entry id", `0x${entry.id.toString(16)} (${entry.id})`);
  if (entry.state) {
    fact("State", entry.state.text);
    fact("Busy", String(entry.state.busy));
    fact("Busy time", `${entry.state.busy_time_ms.toFixed(3)} ms`);
  } else {
    fact("State", "not a service (no state)");
  }
  for (const [plane, path] of Object.entries(entry.paths)) fact(`Path (${plane})`, path);
  panel.append(facts);
  if (actions) panel.append(actions);
  const table = el("table", { class: "properties", "aria-label": "Properties" },
    el("caption", { text: `Properties (${entry.properties.length})` }),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: "Key" }),
      el("th", { scope: "col", text: "Type" }),
      el("th", { scope: "col", text: "Value" }))));
  const body = el("tbody");
  for (const [key, value] of entry.properties) body.append(...propertyRows(key, value));
  table.append(body);
  panel.append(table);
}

export function renderGone(panel, id) {
  clear(panel);
  panel.append(el("p", { class: "gone", role: "alert",
                         text: `Entry ${id} has left the registry (terminated or unplugged).` }));
}
