// Typed property values (iokit_host/explorer/values.py) as IORegistryExplorer shows them:
// a type column (Number with its width, Data with its length, ...) and a value column.
// Containers become indented rows below their key. Everything is text.

import { el } from "./api.js";

export function typeText(value) {
  switch (value.t) {
    case "number": return `Number (${value.bits}-bit)`;
    case "data": return `Data (${value.len} byte${value.len === 1 ? "" : "s"})`;
    case "string": return value.truncated ? `String (${value.len} characters)` : "String";
    case "boolean": return "Boolean";
    case "array": return `Array (${value.count})`;
    case "set": return `Set (${value.count})`;
    case "dictionary": return `Dictionary (${value.count})`;
    case "note": return "";
    default: return "Unknown";
  }
}

/** The strings a data value holds (``"a","b"`` for NUL-separated C strings, as
 *  IORegistryExplorer shows ``compatible``), or null when it is not text. */
function stringsOf(hex) {
  const bytes = [];
  for (let i = 0; i < hex.length; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  if (!bytes.length || bytes[bytes.length - 1] !== 0 && bytes.some((b) => b === 0)) return null;
  const parts = [];
  let text = "";
  for (const code of bytes) {
    if (code === 0) { parts.push(text); text = ""; continue; }
    if (code < 0x20 || code > 0x7e) return null;
    text += String.fromCharCode(code);
  }
  if (text) parts.push(text);
  if (!parts.length || parts.some((part) => !part)) return null; // "1C","" is a number
  return parts.map((part) => `"${part}"`).join(",");
}

/** A little-endian number held in 1 to 8 bytes of data (PCI ids are 4 such bytes). */
export function littleEndian(value) {
  if (value.t !== "data" || value.len < 1 || value.len > 8) return null;
  let number = 0n;
  for (let i = value.hex.length - 2; i >= 0; i -= 2) {
    number = (number << 8n) | BigInt(parseInt(value.hex.slice(i, i + 2), 16));
  }
  return `0x${number.toString(16)}`;
}

export function valueText(value) {
  switch (value.t) {
    case "number": return `${value.hex} (${value.dec})`;
    case "data": {
      const strings = value.truncated ? null : stringsOf(value.hex);
      const more = value.truncated ? "…" : "";
      return `<${value.hex}${more}>` + (strings ? `  ${strings}` : "");
    }
    case "string": return `"${value.v}${value.truncated ? "…" : ""}"`;
    case "boolean": return value.v ? "True" : "False";
    case "unknown": case "note": return String(value.v);
    default: return value.elided ? `(${value.elided})` : "";
  }
}

/** Table rows for one property and, indented under it, its members (depth-first, no
 *  recursion: an explicit stack, as registries from real machines may nest deeply). */
export function propertyRows(key, value) {
  const rows = [];
  const stack = [[key, value, 0]];
  while (stack.length) {
    const [name, item, depth] = stack.pop();
    const row = el("tr", { class: depth ? "member" : null, "data-key": depth ? null : name },
      el("th", { scope: "row", class: `key depth-${Math.min(depth, 12)}`,
                 text: name }),
      el("td", { class: "type", text: typeText(item) }),
      el("td", { class: `value value-${item.t}`, text: valueText(item) }));
    rows.push(row);
    const members = item.entries ? item.entries
      : item.items ? item.items.map((member, index) => [String(index), member]) : [];
    if (item.elided && (item.entries || item.items)) {
      stack.push(["…", { t: "note", v: item.elided }, depth + 1]); // shown after the members
    }
    for (let i = members.length - 1; i >= 0; i--) {
      stack.push([members[i][0], members[i][1], depth + 1]);
    }
  }
  return rows;
}
