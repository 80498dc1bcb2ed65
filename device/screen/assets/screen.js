// freshtap door screen. Plain JavaScript, no framework, no build step, nothing from another origin.
// State arrives as whole snapshots over Server-Sent Events (/api/events); the page renders them with
// textContent only (never parsed as HTML) and runs the countdowns itself between snapshots.
"use strict";

(function () {
  const STATES = ["fresh", "use_soon", "expiring", "expired", "unknown"];
  const KNOWN_COMPARTMENTS = ["fridge", "door", "crisper", "freezer"];
  let catalog = null;
  let lang = "en";
  let snapshot = null;
  let clockOffset = 0; // snapshot clock minus this browser's clock, in ms
  let receivedAt = 0;
  let openItemId = null;

  const $ = (id) => document.getElementById(id);

  function t(key, params) {
    const strings = (catalog && catalog.languages[lang]) || {};
    let text = strings[key];
    if (text === undefined) text = key;
    if (params) {
      for (const [name, value] of Object.entries(params)) text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  function nowMs() {
    return Date.now() + clockOffset;
  }

  function duration(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const days = Math.floor(minutes / 1440);
    const hours = Math.floor((minutes % 1440) / 60);
    const mins = minutes % 60;
    if (days >= 2) return t("unit_d", { n: days });
    if (days >= 1) return t("unit_d", { n: days }) + " " + t("unit_h", { n: hours });
    if (hours >= 1) return t("unit_h", { n: hours }) + (hours < 10 && mins ? " " + t("unit_m", { n: mins }) : "");
    return t("unit_m", { n: Math.max(1, mins) });
  }

  function countdownText(iso) {
    if (!iso) return "";
    const left = Date.parse(iso) - nowMs();
    return left > 0 ? t("time_left", { t: duration(left) }) : t("expired_ago", { t: duration(-left) });
  }

  function money(price) {
    const locale = lang === "zh" ? "zh-CN" : "en";
    try {
      const format = new Intl.NumberFormat(locale, { style: "currency", currency: price.currency });
      const digits = format.resolvedOptions().maximumFractionDigits;
      return format.format(price.amount_minor / Math.pow(10, digits));
    } catch (err) {
      return (price.amount_minor / 100).toFixed(2) + " " + price.currency;
    }
  }

  function compartmentName(id) {
    return KNOWN_COMPARTMENTS.includes(id) ? t("compartment_" + id) : id;
  }

  // ---- rendering ------------------------------------------------------------------------

  function renderStatic() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang-toggle").textContent = t("lang_toggle");
    const legend = $("legend");
    legend.replaceChildren(
      ...STATES.map((state) =>
        el("li", { "data-state": state }, [
          el("span", { className: "swatch state-" + state }),
          el("span", { text: t("state_" + state) }),
        ])
      )
    );
  }

  function renderHeader(s) {
    $("fridge-id").textContent = s.fridge_id;
    const pill = $("connection");
    pill.dataset.connection = s.connection;
    pill.textContent = s.connection === "online" ? t("online") : s.connection === "offline" ? t("offline_title") : t("connecting");
    $("offline-banner").hidden = s.connection === "online";
    $("server-banner").hidden = !(s.connection === "online" && s.server === "unreachable");
    const readings = [];
    if (s.telemetry) {
      for (const c of s.telemetry.compartments) {
        readings.push(el("span", { className: "reading", text: t("temp", { name: compartmentName(c.id), t: c.temp_c.toFixed(1) }) }));
      }
      readings.push(
        el("span", {
          className: "reading " + (s.telemetry.door_open ? "door-open" : "door-closed"),
          "data-door": s.telemetry.door_open ? "open" : "closed",
          text: s.telemetry.door_open ? t("door_open") : t("door_closed"),
        })
      );
    }
    $("readings").replaceChildren(...readings);
  }

  function itemTile(item) {
    const fill =
      item.fill === null || item.fill === undefined
        ? null
        : el("div", { className: "fill", title: t("fill_left", { p: Math.round(item.fill * 100) }) }, [el("span")]);
    if (fill) fill.firstChild.style.setProperty("width", Math.round(item.fill * 100) + "%");
    return el(
      "button",
      {
        type: "button",
        className: "item state-" + item.state,
        "data-item-id": item.item_id,
        "data-state": item.state,
        "data-source": item.source,
        onclick: () => openItem(item.item_id),
      },
      [
        el("span", { className: "name", text: item.name }),
        el("span", { className: "state", text: t("state_" + item.state) }),
        el("span", { className: "countdown", "data-deadline": item.expires_at, text: countdownText(item.expires_at) }),
        fill,
      ]
    );
  }

  function renderShelves(s) {
    const panels = s.compartments
      .filter((c) => c.known || c.items.length)
      .map((c) =>
        el("section", { className: "compartment" + (c.known ? "" : " extra"), "data-compartment": c.id }, [
          el("div", { className: "compartment-head" }, [
            el("span", { className: "name", text: compartmentName(c.id) }),
            c.temp_c === null || c.temp_c === undefined ? null : el("span", { text: c.temp_c.toFixed(1) + " °C" }),
          ]),
          c.items.length
            ? el("div", { className: "tiles" }, c.items.map(itemTile))
            : el("div", { className: "empty", text: t("empty_compartment") }),
        ])
      );
    $("shelf-map").replaceChildren(...panels);
  }

  function reasonText(offer) {
    if (lang === "en" || !offer.item_name) return offer.reason.text;
    if (offer.reason.kind === "expiring") {
      if (offer.item_expires_at && Date.parse(offer.item_expires_at) > nowMs())
        return t("reason_expiring", { item: offer.item_name, t: duration(Date.parse(offer.item_expires_at) - nowMs()) });
      return t("reason_expired", { item: offer.item_name });
    }
    return t("reason_" + offer.reason.kind, { item: offer.item_name });
  }

  function tapControls(offer, canBuy) {
    const tap = offer.tap;
    if (tap && tap.status === "pending") {
      const deadline = receivedAt + tap.undo_ms;
      return [
        el("span", {
          className: "tap-status pending",
          "data-undo-deadline": deadline,
          text: t("buying_in", { s: Math.max(0, Math.ceil((deadline - Date.now()) / 1000)) }),
        }),
        el("button", { type: "button", className: "undo", "data-tap-id": tap.tap_id, text: t("undo"), onclick: () => undo(tap.tap_id) }),
      ];
    }
    if (tap && (tap.status === "sending" || tap.status === "retrying")) {
      return [el("span", { className: "tap-status " + tap.status, text: t(tap.status) })];
    }
    return [
      el("button", {
        type: "button",
        className: "buy",
        disabled: !canBuy,
        "data-proposal-id": offer.proposal_id,
        text: t("buy", { price: money(offer.price) }),
        onclick: (event) => buy(offer.proposal_id, event.currentTarget),
      }),
    ];
  }

  function renderOffers(s) {
    $("no-server").hidden = s.can_buy;
    const cards = s.offers.map((offer) =>
      el("article", { className: "offer", "data-proposal-id": offer.proposal_id }, [
        el("p", { className: "product", text: offer.product_name }),
        el("p", { className: "reason", "data-reason-kind": offer.reason.kind, text: reasonText(offer) }),
        el("p", { className: "meta" }, [
          el("span", { text: t("sold_by", { merchant: offer.merchant_name }) }),
          el("span", { className: "offer-ends", "data-offer-deadline": offer.expires_at, text: t("offer_ends", { t: duration(Date.parse(offer.expires_at) - nowMs()) }) }),
        ]),
        el("div", { className: "actions" }, tapControls(offer, s.can_buy)),
      ])
    );
    $("offer-list").replaceChildren(...(cards.length ? cards : [el("p", { className: "hint", text: t("no_offers") })]));
  }

  function orderStatus(tap) {
    if (tap.status === "placed" && tap.order) {
      const key = "order_" + tap.order.status;
      return { code: tap.order.status, text: t(key) === key ? t("order_unknown") : t(key) };
    }
    if (tap.status === "failed") return { code: "failed", text: t("failed", { reason: t("fail_" + (tap.failure || "rejected")) }) };
    if (tap.status === "pending") return { code: "pending", text: t("buying_in", { s: Math.ceil((tap.undo_ms || 0) / 1000) }) };
    return { code: tap.status, text: t(tap.status) };
  }

  function renderOrders(s) {
    const rows = s.orders.map((tap) => {
      const status = orderStatus(tap);
      const order = tap.order;
      const children = [
        el("span", { className: "product", text: tap.product_name }),
        el("span", { className: "status", text: status.text }),
        el("span", { className: "amount", text: money((order && order.amount) || tap.price) + " · " + tap.merchant_name }),
      ];
      if (order && order.status === "declined" && order.failure_reason) {
        const key = "decline_" + order.failure_reason;
        children.push(el("span", { className: "detail", text: t(key) === key ? t("decline_other", { reason: order.failure_reason }) : t(key) }));
      }
      if (order && order.next_action && order.status !== "paid" && order.status !== "declined") {
        children.push(
          el("div", { className: "qr" }, [
            el("img", { src: "/api/orders/" + encodeURIComponent(order.order_id) + "/qr.svg", alt: t("scan_to_approve") }),
            el("span", { text: t("scan_to_approve") }),
          ])
        );
      }
      return el(
        "article",
        {
          className: "order",
          "data-tap-id": tap.tap_id,
          "data-order-id": order ? order.order_id : null,
          "data-status": status.code,
        },
        children
      );
    });
    $("order-list").replaceChildren(...rows);
    $("orders-title").hidden = rows.length === 0;
  }

  // ---- order notices (device/screen/notices.py): tracking, and problems with their way forward ----

  function noticeStatus(notice) {
    const key = "notice_status_" + notice.status;
    if (t(key) !== key) return t(key);
    const fallback = "order_" + notice.status;
    return t(fallback) === fallback ? t("order_unknown") : t(fallback);
  }

  function nextActionControls(notice, s) {
    const action = notice.next_action;
    if (!action) return [];
    if (action.kind === "choose_other_offer" && action.proposal_id) {
      const live = s.offers.some((offer) => offer.proposal_id === action.proposal_id);
      const label = t("next_choose_other_offer", { merchant: action.merchant || "", price: action.price ? money(action.price) : "" });
      return [
        el("button", {
          type: "button",
          className: "next-action choose-other",
          "data-next-action": action.kind,
          "data-proposal-id": action.proposal_id,
          disabled: !(live && s.can_buy),
          text: label,
          onclick: (event) => buy(action.proposal_id, event.currentTarget),
        }),
      ];
    }
    if (action.kind === "update_payment_method") {
      const parts = [el("p", { className: "next-action update-payment", "data-next-action": action.kind, text: t("next_update_payment_method") })];
      if (action.url) {
        parts.push(
          el("div", { className: "qr" }, [
            el("img", { src: "/api/notices/" + encodeURIComponent(notice.order_id) + "/qr.svg", alt: t("next_update_payment_scan") }),
            el("span", { text: t("next_update_payment_scan") }),
          ])
        );
      }
      return parts;
    }
    if (action.kind === "watching") return [el("p", { className: "next-action watching", "data-next-action": action.kind, text: t("next_watching") })];
    return [];
  }

  function renderOrderNotices(s) {
    const list = s.order_notices || [];
    const cards = list.map((notice) => {
      const children = [
        el("span", { className: "status", text: noticeStatus(notice) }),
        el("p", { className: "notice-text", text: (notice.text && (notice.text[lang] || notice.text.en)) || "" }),
      ];
      if (notice.shipment && notice.shipment.carrier) {
        children.push(
          el("span", {
            className: "tracking",
            "data-tracking-status": notice.shipment.status || null,
            text: t("notice_tracking", { carrier: notice.shipment.carrier, number: notice.shipment.tracking_number || "" }),
          })
        );
      }
      const problem = notice.next_action ? " problem" : "";
      return el(
        "article",
        { className: "order-notice" + problem, "data-order-id": notice.order_id, "data-status": notice.status },
        [...children, ...nextActionControls(notice, s)]
      );
    });
    $("order-notices").replaceChildren(...cards);
    $("notices-title").hidden = cards.length === 0;
  }

  function render() {
    if (!snapshot || !catalog) return;
    renderHeader(snapshot);
    renderShelves(snapshot);
    renderOffers(snapshot);
    renderOrders(snapshot);
    renderOrderNotices(snapshot);
    if (openItemId) fillDialog(openItemId);
  }

  // ---- item details ---------------------------------------------------------------------

  function findItem(itemId) {
    for (const c of snapshot.compartments) for (const item of c.items) if (item.item_id === itemId) return item;
    return null;
  }

  function fillDialog(itemId) {
    const item = findItem(itemId);
    const dialog = $("item-dialog");
    if (!item) {
      if (dialog.open) dialog.close();
      openItemId = null;
      return;
    }
    $("dialog-name").textContent = item.name;
    $("dialog-state").textContent = t("state_" + item.state) + (item.expires_at ? " · " + countdownText(item.expires_at) : "");
    const facts = [];
    const fact = (label, value) => facts.push(el("dt", { text: label }), el("dd", { text: value }));
    fact(t("quantity"), item.quantity + " " + item.unit);
    if (item.label_expiry) fact(t("label_date"), item.label_expiry);
    if (item.expires_at) fact(t("expires"), new Date(item.expires_at).toLocaleString(lang === "zh" ? "zh-CN" : "en"));
    if (item.opened) fact(t("opened"), "✓");
    if (item.fill !== null && item.fill !== undefined) fact(t("fill"), t("fill_left", { p: Math.round(item.fill * 100) }));
    $("dialog-facts").replaceChildren(...facts);
    $("dialog-source").textContent = "(" + t("source_" + item.source) + ")";
    $("dialog-explanation").textContent = item.explanation || "";
  }

  function openItem(itemId) {
    openItemId = itemId;
    fillDialog(itemId);
    const dialog = $("item-dialog");
    if (!dialog.open) dialog.showModal();
  }

  // ---- actions --------------------------------------------------------------------------

  async function post(path) {
    const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    return response.ok;
  }

  async function buy(proposalId, button) {
    button.disabled = true;
    try {
      await post("/api/offers/" + encodeURIComponent(proposalId) + "/buy");
    } catch (err) {
      button.disabled = false;
    }
  }

  async function undo(tapId) {
    try {
      await post("/api/taps/" + encodeURIComponent(tapId) + "/undo");
    } catch (err) {
      /* the next snapshot tells what happened */
    }
  }

  // ---- live updates ---------------------------------------------------------------------

  function tick() {
    if (!snapshot) return;
    for (const node of document.querySelectorAll("[data-deadline]")) node.textContent = countdownText(node.dataset.deadline);
    for (const node of document.querySelectorAll("[data-offer-deadline]"))
      node.textContent = t("offer_ends", { t: duration(Date.parse(node.dataset.offerDeadline) - nowMs()) });
    for (const node of document.querySelectorAll("[data-undo-deadline]"))
      node.textContent = t("buying_in", { s: Math.max(0, Math.ceil((Number(node.dataset.undoDeadline) - Date.now()) / 1000)) });
  }

  function accept(next) {
    snapshot = next;
    receivedAt = Date.now();
    clockOffset = Date.parse(next.now) - receivedAt;
    document.body.dataset.version = String(next.version);
    render();
  }

  function connect() {
    const source = new EventSource("/api/events");
    source.addEventListener("snapshot", (event) => {
      $("stream-banner").hidden = true;
      accept(JSON.parse(event.data));
    });
    source.addEventListener("error", () => {
      $("stream-banner").hidden = source.readyState === EventSource.OPEN;
    });
  }

  async function main() {
    const response = await fetch("/api/catalog");
    catalog = await response.json();
    const saved = window.localStorage.getItem("freshtap.lang");
    lang = saved && catalog.languages[saved] ? saved : catalog.default;
    renderStatic();
    $("lang-toggle").addEventListener("click", () => {
      lang = lang === "en" ? "zh" : "en";
      window.localStorage.setItem("freshtap.lang", lang);
      renderStatic();
      render();
    });
    $("dialog-close").addEventListener("click", () => {
      openItemId = null;
      $("item-dialog").close();
    });
    $("item-dialog").addEventListener("close", () => {
      openItemId = null;
    });
    connect();
    window.setInterval(tick, 1000);
  }

  main();
})();
