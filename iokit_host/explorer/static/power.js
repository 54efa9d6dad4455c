// The power view (iokit_host/explorer/timeline.py): the sleep/wake log as a timeline. Each
// system sleep or wake is a phase; each driver's power change a bar placed at its start and
// as long as it took; a tardy driver (IOPMTardyAckSetPowerState) is marked.

import { el, clear } from "./api.js";

function seconds(ms) { return `${(ms / 1000).toFixed(3)} s`; }

/** The entry's own name when it says more than its class (``ARPT@0`` for an IOPCIDevice). */
function whereName(call) {
  const last = (call.path ?? "").split("/").pop();
  return last && last !== call.class ? last : "";
}

export function renderPower(panel, data, actions) {
  clear(panel);
  panel.append(el("h2", { id: "power-title", text: "Sleep/wake timeline" }));
  if (actions) panel.append(actions);
  if (data.tardy.length) {
    panel.append(el("p", { class: "tardy-line", role: "note",
                           text: `Tardy: ${data.tardy.join(", ")}` }));
  }
  if (!data.phases.length) {
    panel.append(el("p", { class: "hint", text: "No sleep or wake yet: the log is empty." }));
    return;
  }
  for (const phase of data.phases) {
    // Each phase has its own scale: hours may pass between a sleep and the wake after it.
    const start = phase.t_ms;
    const span = Math.max(1, ...phase.calls.map((c) => c.t_ms + (c.duration_ms ?? 0) - start));
    if (phase.kind === "boot" && !phase.calls.length && !phase.marks.length) continue;
    const title = phase.kind === "boot" ? "Before the first sleep"
      : `${phase.kind === "system-sleep" ? "Sleep" : "Wake"} at ${seconds(phase.t_ms)}: ${phase.detail}`;
    // The power-ups of the boot are many and all alike: folded away, as a log's preamble.
    const section = phase.kind === "boot"
      ? el("details", { class: "phase", "aria-label": title }, el("summary", { text: title }))
      : el("section", { class: "phase", "aria-label": title }, el("h3", { text: title }));
    const table = el("table", { class: "timeline", "aria-label": `${title}: driver calls` },
      el("thead", {}, el("tr", {},
        ...["At", "Driver", "Change", "Took", "Timeline"]
          .map((name) => el("th", { scope: "col", text: name })))));
    const body = el("tbody");
    for (const call of phase.calls) {
      const took = call.duration_ms ?? 0;
      const bar = el("span", { class: call.tardy ? "tbar tardy" : "tbar", "aria-hidden": "true" });
      bar.style.left = `${(100 * (call.t_ms - start)) / span}%`;
      bar.style.width = `${Math.max(0.4, (100 * took) / span)}%`;
      const change = call.to === null ? call.kind : `${call.from ?? "?"} → ${call.to}`;
      body.append(el("tr", { class: call.tardy ? "tardy" : null },
        el("td", { class: "num", text: seconds(call.t_ms) }),
        el("th", { scope: "row", title: call.path ?? "" },
           el("span", { text: call.class ?? "(system)" }),
           whereName(call) ? el("span", { class: "where", text: ` ${whereName(call)}` }) : null,
           call.tardy ? el("span", { class: "badge tardy-badge", text: "tardy" }) : null),
        el("td", { text: `${call.kind === "set-power-state" ? "" : call.kind + " "}${change}` }),
        el("td", { class: "num", text: `${took.toFixed(1)} ms` }),
        el("td", { class: "track" }, bar)));
    }
    table.append(body);
    section.append(table);
    for (const mark of phase.marks) {
      section.append(el("p", { class: `mark mark-${mark.kind}`,
                               text: `${seconds(mark.t_ms)} ${mark.kind}: ${mark.class ?? ""} `
                                     + `${mark.detail}` }));
    }
    panel.append(section);
  }
}
