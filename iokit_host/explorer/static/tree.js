// One plane as an outline, as IORegistryExplorer draws it: an ARIA tree (role tree, treeitem,
// group) with a roving tab stop and the keyboard of the ARIA authoring practices. Subtrees
// are built when first expanded, so a plane of thousands of entries stays quick; no recursion
// (an explicit stack), as real registries can be deep.

import { el, clear, label } from "./api.js";

const AUTO_EXPAND_ENTRIES = 3000; // smaller planes open fully, as the default machine does
const AUTO_EXPAND_DEPTH = 3;
// Each level nests an item and a group in the page, and Chromium's renderer crashes laying out
// a few thousand nested elements (a 1,500-deep chain from a hostile dump, revealed by a search
// or a #entry= link, took the tab down). Entries deeper than this are not drawn: the last
// drawn level says how many are below, and one chosen from search opens in the inspector.
export const MAX_DEPTH = 256;
// Children drawn at once under one entry: 100,000 children of one entry (a hostile dump) took
// the page 15 seconds to draw, and as long again at each change. A last row shows the next
// page of them.
export const CHILD_PAGE = 1000;

export class RegistryTree {
  constructor(root, onSelect) {
    this.root = root;
    this.onSelect = onSelect;
    this.data = null;
    this.selected = null;
    this.open = new Set(); // path keys the user opened
    this.shut = new Set(); // path keys the user closed
    this.shown = new Map(); // path key -> how many of its children are drawn
    this.pinned = new Map(); // path key -> a child beyond those, drawn as search revealed it
    root.addEventListener("click", (event) => this.clicked(event));
    root.addEventListener("keydown", (event) => this.key(event));
  }

  /** Draw ``plane`` (the /api/planes answer); entries in ``flash`` are highlighted. */
  render(plane, flash = new Map()) {
    const focusedId = document.activeElement && this.root.contains(document.activeElement)
      ? document.activeElement.dataset.entryId : null;
    this.data = plane;
    this.big = Object.keys(plane.nodes).length > AUTO_EXPAND_ENTRIES;
    this.root.setAttribute("aria-label", `${plane.plane} plane`);
    clear(this.root);
    this.build(this.root, [plane.root], 1, "", flash);
    this.markSelected();
    this.ensureTabStop();
    if (focusedId) {
      const again = this.root.querySelector(`[data-entry-id="${CSS.escape(focusedId)}"]`);
      if (again) again.focus();
    }
  }

  isOpen(key, depth) {
    if (this.shut.has(key)) return false;
    if (this.open.has(key)) return true;
    return !this.big || depth < AUTO_EXPAND_DEPTH;
  }

  limitOf(key) {
    return this.shown.get(key) ?? CHILD_PAGE;
  }

  /** Push the children ``ids`` of the entry at ``key`` so that they pop in order: the page
   *  drawn, a row for the rest, and after it an entry beyond the page that was revealed. */
  pushPage(stack, into, ids, level, key) {
    const drawn = Math.min(ids.length, this.limitOf(key));
    const pinned = this.pinned.get(key);
    const at = pinned === undefined ? -1 : ids.indexOf(pinned);
    if (at >= drawn) stack.push([into, pinned, level, key, at + 1, ids.length]);
    if (drawn < ids.length) {
      const hidden = ids.length - drawn - (at >= drawn ? 1 : 0);
      stack.push([into, null, level, key, drawn + 1, ids.length, hidden]);
    }
    for (let i = drawn - 1; i >= 0; i--) stack.push([into, ids[i], level, key, i + 1, ids.length]);
  }

  build(container, ids, depth, parentKey, flash) {
    const stack = [];
    this.pushPage(stack, container, ids, depth, parentKey);
    while (stack.length) {
      const [into, id, level, above, position, count, hidden] = stack.pop();
      if (id === null) {
        into.append(this.moreItem(above, level, position, count, hidden));
        continue;
      }
      const node = this.data.nodes[id];
      if (!node) continue;
      const [name, location, cls, children] = node;
      const key = `${above}/${id}`;
      const expandable = children.length > 0 && level < MAX_DEPTH;
      const cut = children.length > 0 && !expandable;
      const opened = expandable && this.isOpen(key, level);
      const item = el("li", {
        role: "treeitem", "aria-level": level, "aria-setsize": count, "aria-posinset": position,
        "aria-expanded": expandable ? String(opened) : null, "aria-selected": "false",
        "aria-label": `${label(name, location)}, ${cls}`, tabindex: "-1",
        "data-entry-id": id, "data-key": key,
        class: flash.has(String(id)) ? `flash flash-${flash.get(String(id))}` : null,
      },
      el("span", { class: "row" },
        el("span", { class: "twisty", "aria-hidden": "true",
                     text: expandable ? (opened ? "▾" : "▸") : "" }),
        el("span", { class: "name", text: label(name, location) }),
        el("span", { class: "class", text: cls }),
        cut ? el("span", { class: "deeper", text: `${children.length} `
                           + `${children.length === 1 ? "child" : "children"} below the `
                           + `${MAX_DEPTH} levels drawn: search for them` }) : null));
      into.append(item);
      if (opened) {
        const group = el("ul", { role: "group" });
        item.append(group);
        this.pushPage(stack, group, children, level + 1, key);
      }
    }
  }

  moreItem(key, level, position, count, hidden) {
    const text = `${hidden} more: show ${Math.min(hidden, CHILD_PAGE)} more`;
    return el("li", {
      role: "treeitem", "aria-level": level, "aria-setsize": count, "aria-posinset": position,
      "aria-label": text, tabindex: "-1", "data-more": key, class: "more" },
    el("span", { class: "row" }, el("span", { class: "twisty", "aria-hidden": "true" }),
       el("span", { class: "name", text })));
  }

  /** Draw the next page of children in place of the "more" row ``item``. */
  showMore(item) {
    const key = item.dataset.more;
    const from = this.limitOf(key);
    this.shown.set(key, from + CHILD_PAGE);
    this.render(this.data);
    const owner = this.root.querySelector(`[data-key="${CSS.escape(key)}"]`);
    const next = owner && owner.querySelector(
      `:scope > [role="group"] > [aria-posinset="${from + 1}"]`);
    if (next) this.moveTabStop(next);
  }

  items() {
    return Array.from(this.root.querySelectorAll('[role="treeitem"]'))
      .filter((item) => item.offsetParent !== null || item === document.activeElement);
  }

  ensureTabStop() {
    const current = this.root.querySelector('[role="treeitem"][tabindex="0"]');
    if (current) return;
    const first = this.root.querySelector('[aria-selected="true"]')
      || this.root.querySelector('[role="treeitem"]');
    if (first) first.tabIndex = 0;
  }

  markSelected() {
    for (const item of this.root.querySelectorAll('[aria-selected="true"]')) {
      item.setAttribute("aria-selected", "false");
    }
    if (this.selected === null) return;
    for (const item of this.root.querySelectorAll(
      `[data-entry-id="${CSS.escape(String(this.selected))}"]`)) {
      item.setAttribute("aria-selected", "true");
    }
  }

  moveTabStop(item) {
    for (const other of this.root.querySelectorAll('[role="treeitem"][tabindex="0"]')) {
      other.tabIndex = -1;
    }
    item.tabIndex = 0;
    item.focus();
  }

  choose(item) {
    this.selected = Number(item.dataset.entryId);
    this.markSelected();
    this.moveTabStop(item);
    this.onSelect(this.selected);
  }

  toggle(item, wanted) {
    const expanded = item.getAttribute("aria-expanded");
    if (expanded === null) return false;
    const opened = expanded === "true";
    const next = wanted === undefined ? !opened : wanted;
    if (next === opened) return false;
    const key = item.dataset.key;
    if (next) { this.open.add(key); this.shut.delete(key); }
    else { this.shut.add(key); this.open.delete(key); }
    item.setAttribute("aria-expanded", String(next));
    item.querySelector(".twisty").textContent = next ? "▾" : "▸";
    const group = item.querySelector(':scope > [role="group"]');
    if (next && !group) {
      const ul = el("ul", { role: "group" });
      item.append(ul);
      const id = item.dataset.entryId;
      this.build(ul, this.data.nodes[id][3], Number(item.getAttribute("aria-level")) + 1, key,
                 new Map());
      this.markSelected();
    } else if (group) {
      group.hidden = !next;
    }
    return true;
  }

  clicked(event) {
    const item = event.target.closest('[role="treeitem"]');
    if (!item) return;
    event.stopPropagation();
    if (item.dataset.more !== undefined) this.showMore(item);
    else if (event.target.classList.contains("twisty")) this.toggle(item);
    else this.choose(item);
  }

  key(event) {
    const item = event.target.closest('[role="treeitem"]');
    if (!item) return;
    const visible = this.items();
    const at = visible.indexOf(item);
    const go = (target) => { if (target) { event.preventDefault(); this.moveTabStop(target); } };
    switch (event.key) {
      case "ArrowDown": go(visible[at + 1]); break;
      case "ArrowUp": go(visible[at - 1]); break;
      case "Home": go(visible[0]); break;
      case "End": go(visible[visible.length - 1]); break;
      case "ArrowRight":
        event.preventDefault();
        if (!this.toggle(item, true) && item.getAttribute("aria-expanded") === "true") {
          go(item.querySelector('[role="group"] > [role="treeitem"]'));
        }
        break;
      case "ArrowLeft":
        event.preventDefault();
        if (!this.toggle(item, false)) go(item.parentElement.closest('[role="treeitem"]'));
        break;
      case "Enter": case " ":
        event.preventDefault();
        if (item.dataset.more !== undefined) this.showMore(item);
        else this.choose(item);
        break;
      default:
    }
  }

  /** Open the ancestors of ``id`` and select it (a search result, a link): true, ``"deep"``
   *  when it lies below the levels drawn (selected for the inspector, not shown in the tree),
   *  or false when it is not in this plane. */
  reveal(id) {
    if (!this.data || !this.data.nodes[id]) return false;
    const parents = new Map();
    const stack = [this.data.root];
    while (stack.length) {
      const current = stack.pop();
      for (const child of this.data.nodes[current][3]) {
        if (!parents.has(child) && child !== this.data.root) {
          parents.set(child, current);
          stack.push(child);
        }
      }
    }
    const chain = [];
    for (let at = id; at !== undefined && at !== this.data.root; at = parents.get(at)) {
      chain.unshift(at);
    }
    const deep = chain.length >= MAX_DEPTH; // the root is level 1, chain[i] level i + 2
    let key = `/${this.data.root}`;
    this.open.add(key);
    this.shut.delete(key);
    let parent = this.data.root;
    let pageKey = key;
    for (const step of chain) { // each step drawn, though past its siblings' page
      if (this.data.nodes[parent][3].indexOf(step) >= this.limitOf(pageKey)) {
        this.pinned.set(pageKey, step);
      }
      pageKey += `/${step}`;
      parent = step;
    }
    for (const step of chain.slice(0, deep ? MAX_DEPTH - 2 : -1)) {
      key += `/${step}`;
      this.open.add(key);
      this.shut.delete(key);
    }
    this.render(this.data);
    if (deep) {
      const last = this.root.querySelector(
        `[data-entry-id="${CSS.escape(String(chain[MAX_DEPTH - 2]))}"]`);
      if (last) last.scrollIntoView({ block: "center" });
      this.selected = id;
      this.onSelect(id);
      return "deep";
    }
    const item = this.root.querySelector(`[data-entry-id="${CSS.escape(String(id))}"]`);
    if (!item) return false;
    this.choose(item);
    item.scrollIntoView({ block: "center" });
    return true;
  }
}
