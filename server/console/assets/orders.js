// Orders: the merchant's orders, polled every few seconds so new ones appear without a reload; an
// order's shipment events, and a form that posts the next one (which marks the order shipped).

import { api, Problem } from "./api.js";
import { $, el, money, setMessage, show, when } from "./dom.js";
import { loadProducts, productName } from "./products.js";
import { t } from "./strings.js";

const POLL_MS = 3000;

export class OrdersView {
  constructor() {
    this.timer = null;
    this.active = false;
    this.selected = null;
    this.seen = null; // order ids of the previous poll; null before the first
  }

  init() {
    $("shipment-form").addEventListener("submit", (event) => this.ship(event));
    $("order-detail-close").addEventListener("click", () => this.select(null));
    $("order-table").addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-order-id]");
      if (row) this.select(row.dataset.orderId);
    });
  }

  async show() {
    this.active = true;
    await loadProducts().catch(() => null);
    await this.poll();
  }

  hide() {
    this.active = false;
    clearTimeout(this.timer);
  }

  async poll() {
    clearTimeout(this.timer);
    if (!this.active) return;
    try {
      const page = await api("GET", "/api/v1/orders?limit=50");
      this.render(page.items || []);
      setMessage($("orders-error"), "");
      if (this.selected) await this.refreshDetail();
    } catch (error) {
      if (error instanceof Problem && error.status === 401) return;
      setMessage($("orders-error"), error instanceof Problem ? error.explain() : String(error), "error");
    }
    if (this.active) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  render(orders) {
    const before = this.seen;
    this.seen = new Set(orders.map((o) => o.order_id));
    $("order-table").tBodies[0].replaceChildren(
      ...orders.map((o) =>
        el(
          "tr",
          {
            className: `order-row${before && !before.has(o.order_id) ? " new" : ""}${o.order_id === this.selected ? " selected" : ""}`,
            "data-order-id": o.order_id,
            "data-status": o.status,
            tabindex: "0",
          },
          [
            el("td", { text: when(o.created_at) }),
            el("td", { className: "mono", text: o.order_id }),
            el("td", { className: "mono", text: o.fridge_id }),
            el("td", { text: productName(o.product_id) }),
            el("td", { text: money(o.amount) }),
            el("td", {}, [el("span", { className: `badge status-${o.status}`, text: o.status })]),
          ],
        ),
      ),
    );
    show($("orders-empty"), orders.length === 0);
  }

  async select(orderId) {
    this.selected = orderId;
    for (const row of $("order-table").querySelectorAll("tr[data-order-id]")) {
      row.classList.toggle("selected", row.dataset.orderId === orderId);
    }
    show($("order-detail"), Boolean(orderId));
    setMessage($("shipment-message"), "");
    if (orderId) await this.refreshDetail();
  }

  async refreshDetail() {
    const orderId = this.selected;
    try {
      const [order, shipments] = await Promise.all([
        api("GET", `/api/v1/orders/${encodeURIComponent(orderId)}`),
        api("GET", `/api/v1/orders/${encodeURIComponent(orderId)}/shipments`),
      ]);
      if (orderId !== this.selected) return;
      $("order-detail").dataset.orderId = orderId;
      $("order-detail").dataset.status = order.status;
      $("order-detail-title").textContent = t("order_detail", { id: orderId });
      $("order-detail-status").textContent = `${order.status} · ${money(order.amount)} · ${productName(order.product_id)}`;
      const events = Array.isArray(shipments) ? shipments : shipments.items || [];
      $("shipment-list").replaceChildren(
        ...(events.length
          ? events.map((s) =>
              el("li", { className: "shipment", "data-status": s.status }, [
                el("strong", { text: s.status }),
                el("span", { text: ` ${s.carrier} ${s.tracking_number}` }),
                el("span", { className: "hint", text: ` ${when(s.at || s.created_at)}` }),
              ]),
            )
          : [el("li", { className: "hint", text: t("no_shipments") })]),
      );
    } catch (error) {
      if (error instanceof Problem && error.status !== 401) {
        setMessage($("shipment-message"), error.explain(), "error");
      }
    }
  }

  async ship(event) {
    event.preventDefault();
    const orderId = this.selected;
    if (!orderId) return;
    const body = {
      carrier: $("shipment-carrier").value.trim(),
      tracking_number: $("shipment-tracking").value.trim(),
      status: $("shipment-status").value,
    };
    try {
      await api("POST", `/api/v1/orders/${encodeURIComponent(orderId)}/shipments`, body);
      setMessage($("shipment-message"), t("shipment_added"), "ok");
      await this.poll();
    } catch (error) {
      setMessage($("shipment-message"), error instanceof Problem ? error.explain() : String(error), "error");
    }
  }
}
