// Products: the merchant's catalog, and a form to add to it. Other views read the catalog from here.

import { api, Problem } from "./api.js";
import { $, el, money, numberOrNull, setMessage, show, toMinor, when } from "./dom.js";
import { t } from "./strings.js";

let catalog = [];

export function products() {
  return catalog;
}

export function productName(productId) {
  const found = catalog.find((p) => p.id === productId);
  return found ? found.name : productId;
}

export async function loadProducts() {
  catalog = await api("GET", "/api/v1/products?limit=200");
  return catalog;
}

export class ProductsView {
  init() {
    $("product-form").addEventListener("submit", (event) => this.create(event));
  }

  async show() {
    try {
      await loadProducts();
      this.render();
    } catch (error) {
      if (error instanceof Problem && error.status !== 401) setMessage($("product-message"), error.explain(), "error");
    }
  }

  hide() {}

  render() {
    const body = $("product-table").tBodies[0];
    body.replaceChildren(
      ...catalog.map((p) =>
        el("tr", { "data-product-id": p.id }, [
          el("td", { text: p.name }),
          el("td", { text: p.gtin || "—" }),
          el("td", { text: p.category }),
          el("td", { text: money(p.price) }),
          el("td", { text: when(p.created_at) }),
        ]),
      ),
    );
    show($("products-empty"), catalog.length === 0);
  }

  async create(event) {
    event.preventDefault();
    const currency = $("product-currency").value.trim().toUpperCase();
    const body = {
      name: $("product-name").value.trim(),
      category: $("product-category").value.trim(),
      price: { amount_minor: toMinor($("product-price").value, currency), currency },
    };
    const gtin = $("product-gtin").value.trim();
    if (gtin) body.gtin = gtin;
    const foodkeeper = numberOrNull($("product-foodkeeper").value);
    if (foodkeeper !== null) body.foodkeeper_product_id = foodkeeper;
    try {
      const created = await api("POST", "/api/v1/products", body);
      $("product-form").reset();
      $("product-currency").value = currency;
      setMessage($("product-message"), t("product_created", { name: created.name }), "ok");
      await this.show();
    } catch (error) {
      setMessage($("product-message"), error instanceof Problem ? error.explain() : String(error), "error");
    }
  }
}
