// freshtap merchant console: sign-in, hash routes (#products, #offers, #orders, #funnel) and the views.
// Plain ES modules, no framework, no build step, nothing from another origin (the CSP allows none).

import { api, onUnauthorized, Problem, useSession } from "./api.js";
import { $, setMessage, show } from "./dom.js";
import { FunnelView } from "./funnel.js";
import { OffersView } from "./offers.js";
import { OrdersView } from "./orders.js";
import { ProductsView } from "./products.js";
import { STRINGS, t } from "./strings.js";

const views = {
  products: new ProductsView(),
  offers: new OffersView(),
  orders: new OrdersView(),
  funnel: new FunnelView(),
};
let current = null;
let session = null;

function fillText() {
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
  for (const option of $("funnel-days").options) option.textContent = t("days_n", { n: option.value });
  document.title = STRINGS.title;
}

function route() {
  if (!session) return;
  const name = (location.hash || "#products").slice(1);
  const next = views[name] ? name : "products";
  if (current && current !== next) views[current].hide();
  for (const key of Object.keys(views)) show($(`view-${key}`), key === next);
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.view === next) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current = next;
  views[next].show();
}

function signedIn(value) {
  session = value;
  useSession(value);
  document.body.dataset.signedIn = value ? "true" : "false";
  show($("signin-view"), !value);
  show($("topbar"), Boolean(value));
  show($("app"), Boolean(value));
  if (value) {
    $("merchant-name").textContent = t("signed_in_as", { name: value.merchant_name });
    $("merchant-name").dataset.merchantId = value.merchant_id;
    route();
  } else {
    if (current) views[current].hide();
    current = null;
    $("api-key").focus();
  }
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  try {
    const value = await api("POST", "/console/session", { api_key: key });
    $("api-key").value = "";
    setMessage($("signin-error"), "");
    signedIn(value);
  } catch (error) {
    const detail = error instanceof Problem ? error.explain() : String(error);
    setMessage($("signin-error"), t("signin_failed", { detail }), "error");
  }
}

async function signOut() {
  try {
    await api("DELETE", "/console/session");
  } finally {
    signedIn(null);
  }
}

async function start() {
  // A page load mark: a view that updates in place keeps it; a reload would replace it.
  document.body.dataset.loadedAt = String(Date.now());
  fillText();
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  onUnauthorized(() => {
    if (session) setMessage($("signin-error"), t("session_ended"), "error");
    signedIn(null);
  });
  for (const view of Object.values(views)) view.init();
  try {
    signedIn(await api("GET", "/console/session"));
  } catch {
    signedIn(null);
  }
}

start();
