// The matching picture of one nub (iokit_host/explorer/matching.py), as the seed draws it:
// the nub with its ids, every personality that competed with its score as a bar, the winner
// marked, and each candidate's lifecycle steps (match, init, attach, probe, start).

import { el, clear, label } from "./api.js";
import { littleEndian, valueText } from "./values.js";

const STEP_MARK = { done: "✓", failed: "✗", waiting: "…", "not reached": "–" };

export function renderMatching(panel, data) {
  clear(panel);
  const nub = data.nub;
  panel.append(el("h2", { id: "matching-title",
                          text: `Matching for ${label(nub.name, nub.location)}` }));
  panel.append(el("p", { class: "path", text: `${nub.class} at ${nub.path}` }));
  if (nub.ids.length) {
    const ids = el("dl", { class: "facts ids", "aria-label": "Nub ids" });
    for (const [key, value] of nub.ids) {
      const number = littleEndian(value);
      ids.append(el("dt", { text: key }),
                 el("dd", { text: valueText(value) + (number ? `  = ${number}` : "") }));
    }
    panel.append(ids);
  }
  if (!data.candidates.length) {
    panel.append(el("p", { class: "hint", text: "No personality matched this nub passively: "
                                                + "nothing competed for it." }));
    renderUnmatched(panel, data.unmatched, data.more_unmatched);
    return;
  }
  const winners = data.winners.map((w) => `${w.class} (${w.bundle}) at ${w.score}`);
  panel.append(el("p", { class: "winner-line",
                         text: winners.length ? `Winner: ${winners.join("; ")}`
                                              : "No driver won this nub." }));
  const top = Math.max(1, ...data.candidates.map((c) => c.score ?? c.initial_score ?? 0));
  const table = el("table", { class: "matching", "aria-label": "Competing personalities" },
    el("caption", { text: "Every personality that competed, best first" }),
    el("thead", {}, el("tr", {},
      ...["Personality", "Offered", "Score", "Outcome", "Lifecycle"]
        .map((name) => el("th", { scope: "col", text: name })))));
  const body = el("tbody");
  for (const c of data.candidates) {
    const score = c.score ?? c.initial_score ?? 0;
    const bar = el("span", { class: "score-bar", "aria-hidden": "true" });
    bar.style.width = `${Math.max(2, (100 * score) / top)}%`;
    const steps = el("ol", { class: "steps", "aria-label": "Lifecycle steps" },
      ...data.steps.map((step) => el("li", { class: `step step-${c.steps[step].replace(" ", "-")}`,
                                             title: `${step}: ${c.steps[step]}`,
                                             text: `${STEP_MARK[c.steps[step]]} ${step}` })));
    body.append(el("tr", { class: c.winner ? "winner" : null,
                           "aria-label": `${c.class} ${c.outcome}` },
      el("th", { scope: "row" },
         el("span", { class: "who", text: c.class ?? c.personality }),
         c.winner ? el("span", { class: "badge", text: "winner" }) : null,
         el("span", { class: "bundle", text: `${c.bundle ?? ""} · ${c.category}` }),
         el("span", { class: "reason", text: c.reason })),
      el("td", { class: "num", text: String(c.initial_score) }),
      el("td", { class: "num score" }, el("span", { class: "bar-track" }, bar),
         el("span", { class: "score-value", text: c.score === null ? "–" : String(c.score) })),
      el("td", { class: `outcome outcome-${c.outcome}`, text: c.outcome }),
      el("td", {}, steps)));
  }
  table.append(body);
  panel.append(table);
  if (data.more_candidates) {
    panel.append(el("p", { class: "hint more-candidates",
                           text: `${data.more_candidates} more personalities competed with `
                                 + "lower scores: not shown" }));
  }
  renderUnmatched(panel, data.unmatched, data.more_unmatched);
}

function renderUnmatched(panel, unmatched, more = 0) {
  if (!unmatched.length) return;
  const list = el("ul", { class: "unmatched" });
  for (const c of unmatched) {
    list.append(el("li", {}, el("span", { class: "who", text: c.class ?? c.personality }),
                   el("span", { class: "reason", text: ` (${c.bundle ?? ""}): ${c.reason}` })));
  }
  if (more) list.append(el("li", { class: "hint", text: `${more} more not shown` }));
  const count = unmatched.length + more;
  panel.append(el("details", { class: "unmatched-list" },
    el("summary", { text: `${count} personalit${count === 1 ? "y" : "ies"} `
                          + "of this class did not match" }), list));
}
