// freshtap door screen: the review panel. Drafts waiting for the owner, each with the facts behind every
// sentence, the poster, the disclosure the post will carry and the channels to post to; approve, edit or
// skip. Text is set with textContent only. The language follows the screen's own toggle.
"use strict";

(function () {
  const STRINGS = {
    en: {
      title: "Review your purchase",
      facts: "Every sentence comes from these facts",
      source_order: "order", source_measured: "measured by the fridge", source_owner: "your words",
      owner_text: "Your own wording",
      disclosure: "Will be posted as",
      channels: "Post to",
      approve: "Approve and post", edit: "Edit", save: "Save", cancel: "Cancel", skip: "Skip",
      approved: "Approved — posting to {channels}. Your link: {link}",
      skipped: "Skipped. Nothing will be posted.",
      choose_channel: "Choose at least one channel.",
      incentive: "You get a reward when someone buys through your link; the post says so.",
      note: "Note", rating: "Rating (optional)", no_rating: "no rating",
    },
    zh: {
      title: "评价你的购买",
      facts: "每句话都来自这些事实",
      source_order: "订单", source_measured: "冰箱实测", source_owner: "你写的",
      owner_text: "你自己的文字",
      disclosure: "发布内容",
      channels: "发布到",
      approve: "同意并发布", edit: "编辑", save: "保存", cancel: "取消", skip: "跳过",
      approved: "已同意，正在发布到 {channels}。你的链接：{link}",
      skipped: "已跳过，不会发布任何内容。",
      choose_channel: "请至少选择一个渠道。",
      incentive: "有人通过你的链接购买时你会获得奖励，帖子中会注明。",
      note: "备注", rating: "评分（可选）", no_rating: "不评分",
    },
  };
  const CHANNELS = { local: "freshtap", xiaohongshu: "小红书", weibo: "微博", wechat_oa: "微信公众号", douyin: "抖音",
                     mastodon: "Mastodon", webhook: "Webhook" };
  let drafts = [];
  let editing = null;
  let message = null;

  const lang = () => (window.localStorage.getItem("freshtap.lang") === "zh" ? "zh" : "en");
  const t = (key, params) => {
    let text = STRINGS[lang()][key] || key;
    for (const [name, value] of Object.entries(params || {})) text = text.split("{" + name + "}").join(String(value));
    return text;
  };

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

  function factText(fact) {
    return Object.entries(fact.values).map(([k, v]) => `${k}: ${v}`).join(", ");
  }

  async function post(id, action, body) {
    const response = await fetch(`/api/reviews/${encodeURIComponent(id)}/${action}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail || answer.title || `HTTP ${response.status}`);
    return answer;
  }

  function renderDraft(draft) {
    const l = lang();
    const facts = Object.fromEntries(draft.facts.map((f) => [f.id, f]));
    const card = el("article", { className: "review-card", "data-draft-id": draft.draft_id });
    card.appendChild(el("h3", { className: "review-product", text: draft.product_name }));
    card.appendChild(el("img", { className: "review-poster", src: `${draft.poster_url}?language=${l}`, alt: draft.product_name }));
    if (editing === draft.draft_id) {
      const area = el("textarea", { className: "review-edit-text", rows: "5" });
      area.value = draft.text[l];
      card.appendChild(area);
      card.appendChild(el("div", { className: "review-actions" }, [
        el("button", { type: "button", className: "review-save", text: t("save"), onclick: async () => {
          try {
            await post(draft.draft_id, "edit", { ["text_" + l]: area.value });
            editing = null;
            await load();
          } catch (error) { message = String(error.message || error); render(); }
        } }),
        el("button", { type: "button", className: "review-cancel", text: t("cancel"), onclick: () => { editing = null; render(); } }),
      ]));
      return card;
    }
    const list = el("ol", { className: "review-sentences" });
    for (const sentence of draft.sentences[l]) {
      const item = el("li", { className: "review-sentence" }, [el("span", { className: "sentence-text", text: sentence.text })]);
      const cited = el("ul", { className: "sentence-facts" });
      if (sentence.source === "owner") cited.appendChild(el("li", { className: "fact", text: t("owner_text") }));
      for (const id of sentence.facts) {
        const fact = facts[id];
        if (!fact) continue;
        cited.appendChild(el("li", { className: "fact", "data-fact-id": id,
          text: `${t("source_" + fact.source)} · ${factText(fact)}` }));
      }
      item.appendChild(cited);
      list.appendChild(item);
    }
    card.appendChild(el("p", { className: "review-facts-head", text: t("facts") }));
    card.appendChild(list);
    card.appendChild(el("p", { className: "review-disclosure-head", text: t("disclosure") }));
    card.appendChild(el("pre", { className: "review-preview", text: draft.preview[l] }));
    if (draft.incentive) card.appendChild(el("p", { className: "review-incentive", text: t("incentive") }));
    const channels = el("fieldset", { className: "review-channels" }, [el("legend", { text: t("channels") })]);
    for (const channel of draft.channels) {
      channels.appendChild(el("label", {}, [
        el("input", { type: "checkbox", name: "channel", value: channel, checked: channel === "local" }),
        document.createTextNode(" " + (CHANNELS[channel] || channel)),
      ]));
    }
    card.appendChild(channels);
    card.appendChild(el("div", { className: "review-actions" }, [
      el("button", { type: "button", className: "review-approve", text: t("approve"), onclick: async () => {
        const chosen = [...channels.querySelectorAll("input:checked")].map((i) => i.value);
        if (!chosen.length) { message = t("choose_channel"); render(); return; }
        const shown = card.querySelector(".review-preview").textContent;
        try {
          const answer = await post(draft.draft_id, "approve", { channels: chosen, language: l, shown_text: shown });
          message = t("approved", { channels: chosen.map((c) => CHANNELS[c] || c).join(", "), link: answer.draft.referral_url });
          await load();
        } catch (error) { message = String(error.message || error); render(); }
      } }),
      el("button", { type: "button", className: "review-edit", text: t("edit"), onclick: () => { editing = draft.draft_id; render(); } }),
      el("button", { type: "button", className: "review-skip", text: t("skip"), onclick: async () => {
        try {
          await post(draft.draft_id, "skip");
          message = t("skipped");
          await load();
        } catch (error) { message = String(error.message || error); render(); }
      } }),
    ]));
    return card;
  }

  function render() {
    const panel = document.getElementById("reviews");
    if (!panel) return;
    panel.replaceChildren();
    panel.hidden = !drafts.length && !message;
    panel.appendChild(el("h2", { id: "reviews-title", className: "reviews-title", text: t("title") }));
    if (message) panel.appendChild(el("p", { className: "review-message", role: "status", text: message }));
    for (const draft of drafts) panel.appendChild(renderDraft(draft));
  }

  async function load() {
    try {
      const response = await fetch("/api/reviews");
      if (response.ok) drafts = (await response.json()).drafts;
    } catch (error) { /* the next poll tries again */ }
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("lang-toggle");
    if (toggle) toggle.addEventListener("click", () => window.setTimeout(render, 0));
    load();
    window.setInterval(() => { if (editing === null) load(); }, 15000);
  });
})();
