// The referral page's buy path: order the product with a fridge credential (POST /api/v1/referrals/{code}/orders).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("buy-form");
  const result = document.getElementById("result");
  const key = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const credential = document.getElementById("credential").value.trim();
    result.textContent = "…";
    try {
      const response = await fetch(`/api/v1/referrals/${encodeURIComponent(form.dataset.code)}/orders`, {
        method: "POST",
        headers: { "Authorization": `Bearer ${credential}`, "Idempotency-Key": key, "Accept": "application/json" },
      });
      const body = await response.json();
      if (!response.ok) {
        result.textContent = body.detail || body.title || `HTTP ${response.status}`;
        return;
      }
      result.dataset.orderId = body.order.order_id;
      result.dataset.status = body.order.status;
      result.textContent = `${body.order.order_id}: ${body.order.status}`;
    } catch (error) {
      result.textContent = String(error);
    }
  });
});
