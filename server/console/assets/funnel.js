// Funnel: GET /api/v1/merchant/funnel drawn with Chart.js (vendored, loaded before this module as
// window.Chart). The canvas says in data-* attributes what the chart holds, for people and tests alike.

import { api, Problem } from "./api.js";
import { $, el, setMessage } from "./dom.js";

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// After every draw, mirror what Chart.js actually laid out onto the canvas element.
const mirror = {
  id: "freshtapMirror",
  afterRender(chart) {
    const canvas = chart.canvas;
    const meta = chart.getDatasetMeta(0);
    canvas.dataset.chartReady = "true";
    canvas.dataset.labels = chart.data.labels.join("|");
    canvas.dataset.values = chart.data.datasets[0].data.join(",");
    canvas.dataset.bars = String(meta.data.filter((bar) => Number.isFinite(bar.x) && Number.isFinite(bar.y)).length);
  },
};

export class FunnelView {
  constructor() {
    this.chart = null;
  }

  init() {
    $("funnel-days").addEventListener("change", () => this.show());
  }

  hide() {}

  async show() {
    try {
      const funnel = await api("GET", `/api/v1/merchant/funnel?days=${encodeURIComponent($("funnel-days").value)}`);
      setMessage($("funnel-error"), "");
      this.render(funnel);
    } catch (error) {
      if (error instanceof Problem && error.status === 401) return;
      setMessage($("funnel-error"), error instanceof Problem ? error.explain() : String(error), "error");
    }
  }

  render(funnel) {
    const labels = funnel.stages.map((s) => s.label);
    const values = funnel.stages.map((s) => s.count);
    $("funnel-table").tBodies[0].replaceChildren(
      ...funnel.stages.map((s) =>
        el("tr", { "data-stage": s.key }, [el("td", { text: s.label }), el("td", { text: String(s.count) })]),
      ),
    );
    const canvas = $("funnel-chart");
    canvas.dataset.days = String(funnel.days);
    if (this.chart) {
      this.chart.data.labels = labels;
      this.chart.data.datasets[0].data = values;
      this.chart.update();
      return;
    }
    const Chart = window.Chart;
    if (!Chart) {
      setMessage($("funnel-error"), "Chart.js did not load", "error");
      return;
    }
    this.chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [
          {
            label: "Orders and offers",
            data: values,
            backgroundColor: cssVar("--chart-bar") || "#2f7d5b",
            borderRadius: 4,
          },
        ],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: { duration: 300 },
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
      plugins: [mirror],
    });
  }
}
