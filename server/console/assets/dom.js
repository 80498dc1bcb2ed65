// Small DOM helpers: build elements with textContent only (never parsed as HTML), format money and time.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children || []) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

function fractionDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

export function money(value) {
  if (!value) return "";
  const digits = fractionDigits(value.currency);
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: value.currency }).format(
      value.amount_minor / 10 ** digits,
    );
  } catch {
    return `${value.amount_minor} ${value.currency}`;
  }
}

// "12.90" CNY -> 1290; null for an empty field, NaN for nonsense (the server then explains).
export function toMinor(text, currency) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return null;
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return NaN;
  return Math.round(parseFloat(trimmed) * 10 ** fractionDigits(currency));
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return date.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

// <input type="datetime-local"> value (local time) -> RFC 3339 UTC, or null when empty.
export function localToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

export function numberOrNull(text) {
  const trimmed = String(text || "").trim();
  if (!trimmed) return null;
  const value = Number(trimmed);
  return Number.isNaN(value) ? trimmed : value;
}

export function setMessage(node, text, kind) {
  node.textContent = text || "";
  node.dataset.kind = kind || "";
  node.hidden = !text;
}
