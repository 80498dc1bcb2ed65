// Offers: the list, a form to create one, and a live preview of which fridges it would match right
// now (POST /api/v1/offers/preview with the same body as the create), refreshed as the form changes.

import { api, Problem } from "./api.js";
import { $, el, localToIso, money, numberOrNull, setMessage, show, toMinor, when } from "./dom.js";
import { loadProducts, productName, products } from "./products.js";
import { t } from "./strings.js";

const PREVIEW_DELAY_MS = 300;

function matchText(match) {
  if (match.gtin) return `GTIN ${match.gtin}`;
  if (match.foodkeeper_product_id) return `FoodKeeper #${match.foodkeeper_product_id}`;
  return `${t("match_category")}: ${match.category}`;
}

function triggerText(trigger) {
  if (trigger.kind === "low_fill") return `${t("trigger_low_fill")}: ${trigger.below}`;
  const label = trigger.kind === "runout" ? t("trigger_runout") : t("trigger_expiring");
  return `${label}: ${trigger.within_hours}`;
}

function capsText(offer) {
  const parts = [];
  if (offer.max_per_household_per_week) parts.push(`≤ ${offer.max_per_household_per_week}/week`);
  if (offer.quiet_hours) parts.push(`quiet ${offer.quiet_hours.start}–${offer.quiet_hours.end}`);
  if (offer.valid_until) parts.push(`until ${when(offer.valid_until)}`);
  if (offer.discount) {
    parts.push(offer.discount.kind === "percent" ? `−${offer.discount.percent}%` : `−${offer.discount.amount_minor}`);
  }
  return parts.join(", ") || "—";
}

export class OffersView {
  constructor() {
    this.timer = null;
    this.generation = 0;
  }

  init() {
    const form = $("offer-form");
    form.addEventListener("submit", (event) => this.create(event));
    form.addEventListener("input", () => this.schedulePreview());
    form.addEventListener("change", (event) => {
      if (event.target.id === "offer-product" || event.target.id === "offer-match-kind") this.fillMatch();
      if (event.target.id === "offer-trigger-kind") this.fillTrigger();
      this.schedulePreview();
    });
  }

  async show() {
    try {
      await loadProducts();
      this.renderProducts();
      this.renderOffers(await api("GET", "/api/v1/offers?limit=200"));
      this.schedulePreview();
    } catch (error) {
      if (error instanceof Problem && error.status !== 401) setMessage($("offer-message"), error.explain(), "error");
    }
  }

  hide() {
    clearTimeout(this.timer);
  }

  renderProducts() {
    const select = $("offer-product");
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "", text: t("choose_product") }),
      ...products().map((p) => el("option", { value: p.id, text: `${p.name} (${money(p.price)})` })),
    );
    if (products().some((p) => p.id === chosen)) select.value = chosen;
  }

  renderOffers(offers) {
    $("offer-table").tBodies[0].replaceChildren(
      ...offers.map((o) =>
        el("tr", { "data-offer-id": o.id }, [
          el("td", { text: productName(o.product_id) }),
          el("td", { text: matchText(o.match) }),
          el("td", { text: triggerText(o.trigger) }),
          el("td", { text: o.price ? money(o.price) : "—" }),
          el("td", { text: capsText(o) }),
          el("td", { text: o.active ? t("yes") : t("no") }),
        ]),
      ),
    );
    show($("offers-empty"), offers.length === 0);
  }

  product() {
    return products().find((p) => p.id === $("offer-product").value) || null;
  }

  // Picking a product (or a way to match) fills in the value to match from the product.
  fillMatch() {
    const product = this.product();
    if (!product) return;
    const kind = $("offer-match-kind").value;
    const value = { gtin: product.gtin, category: product.category, foodkeeper_product_id: product.foodkeeper_product_id };
    $("offer-match-value").value = value[kind] ?? "";
  }

  fillTrigger() {
    $("offer-trigger-value").value = $("offer-trigger-kind").value === "low_fill" ? "0.25" : "48";
  }

  // The body of POST /api/v1/offers (and of the preview): only the fields the merchant filled in.
  body() {
    const product = this.product();
    const currency = product ? product.price.currency : "CNY";
    const body = { product_id: product ? product.id : null };
    const matchKind = $("offer-match-kind").value;
    const matchValue = $("offer-match-value").value.trim();
    body.match = { [matchKind]: matchKind === "foodkeeper_product_id" ? numberOrNull(matchValue) : matchValue };
    const triggerKind = $("offer-trigger-kind").value;
    const threshold = numberOrNull($("offer-trigger-value").value);
    body.trigger = triggerKind === "low_fill" ? { kind: triggerKind, below: threshold } : { kind: triggerKind, within_hours: threshold };
    const price = toMinor($("offer-price").value, currency);
    if (price !== null) body.price = { amount_minor: price, currency };
    const discountKind = $("offer-discount-kind").value;
    const discountValue = $("offer-discount-value").value;
    if (discountKind === "percent") body.discount = { kind: "percent", percent: numberOrNull(discountValue) };
    if (discountKind === "amount_off") body.discount = { kind: "amount_off", amount_minor: toMinor(discountValue, currency) };
    const validFrom = localToIso($("offer-valid-from").value);
    const validUntil = localToIso($("offer-valid-until").value);
    if (validFrom) body.valid_from = validFrom;
    if (validUntil) body.valid_until = validUntil;
    const cap = numberOrNull($("offer-cap").value);
    if (cap !== null) body.max_per_household_per_week = cap;
    const cooldown = numberOrNull($("offer-cooldown").value);
    if (cooldown !== null) body.cooldown_hours_after_dismissal = cooldown;
    const quietStart = $("offer-quiet-start").value;
    const quietEnd = $("offer-quiet-end").value;
    if (quietStart || quietEnd) body.quiet_hours = { start: quietStart, end: quietEnd };
    body.active = $("offer-active").checked;
    return body;
  }

  schedulePreview() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.preview(), PREVIEW_DELAY_MS);
  }

  async preview() {
    const summary = $("preview-summary");
    if (!this.product()) {
      summary.textContent = t("preview_idle");
      summary.dataset.state = "idle";
      $("preview-list").replaceChildren();
      return;
    }
    const generation = ++this.generation;
    summary.dataset.state = "loading";
    try {
      const result = await api("POST", "/api/v1/offers/preview", this.body());
      if (generation !== this.generation) return; // a newer edit is already being previewed
      this.renderPreview(result);
    } catch (error) {
      if (generation !== this.generation) return;
      const detail = error instanceof Problem ? error.explain() : String(error);
      const key = error instanceof Problem && error.status === 422 ? "preview_invalid" : "preview_unavailable";
      summary.textContent = t(key, { detail });
      summary.dataset.state = "error";
      $("preview-list").replaceChildren();
    }
  }

  renderPreview(result) {
    const summary = $("preview-summary");
    const matches = result.matches || [];
    summary.textContent = matches.length
      ? `${t("preview_summary", { matches: matches.length, eligible: result.eligible })} ${t("preview_at", { at: when(result.evaluated_at) })}`
      : t("preview_none");
    summary.dataset.state = "ready";
    summary.dataset.eligible = String(result.eligible);
    $("preview-list").replaceChildren(
      ...matches.map((m) =>
        el(
          "li",
          {
            className: `preview-match ${m.eligible ? "eligible" : "blocked"}`,
            "data-fridge-id": m.fridge_id,
            "data-item-id": m.item.item_id,
            "data-eligible": String(m.eligible),
            "data-blocked-by": m.blocked_by || "",
          },
          [
            el("div", { className: "match-head" }, [
              el("strong", { className: "fridge", text: m.fridge_id }),
              el("span", { className: "item", text: m.item.name }),
              el("span", { className: "price", text: money(m.price) }),
            ]),
            el("div", { className: "reason", text: m.reason.text }),
            el("div", {
              className: "verdict",
              text: m.eligible ? t("preview_eligible") : t("preview_blocked", { why: t(`blocked_${m.blocked_by}`) }),
            }),
            m.explanation ? el("div", { className: "explanation", text: m.explanation }) : null,
          ],
        ),
      ),
    );
  }

  async create(event) {
    event.preventDefault();
    try {
      const created = await api("POST", "/api/v1/offers", this.body());
      setMessage($("offer-message"), t("offer_created", { id: created.id }), "ok");
      this.renderOffers(await api("GET", "/api/v1/offers?limit=200"));
      this.schedulePreview();
    } catch (error) {
      setMessage($("offer-message"), error instanceof Problem ? error.explain() : String(error), "error");
    }
  }
}
