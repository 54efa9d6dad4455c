// The explorer's JSON API (iokit_host/explorer/app.py), and small DOM helpers.
// Every value from the registry goes into the page as text (textContent), never as HTML.

export class ApiError extends Error {
  constructor(status, diagnostic) {
    super(diagnostic && diagnostic.message ? diagnostic.message : `HTTP ${status}`);
    this.status = status;
    this.reference = diagnostic ? diagnostic.reference : "explorer-http-error";
  }
}

export async function getJSON(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body && body.error);
  return body;
}

export async function postJSON(path, data) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(data),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body && body.error);
  return body;
}

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function label(name, location) {
  return location ? `${name}@${location}` : String(name);
}
