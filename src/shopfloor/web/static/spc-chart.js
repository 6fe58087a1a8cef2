// Control charts of a characteristic (X-bar/R, X-bar/S, I-MR, p, np, c, u, EWMA, CUSUM): the plotted values,
// the centre line and the limits (stepped where they vary per point), points that break a rule in red with the
// rule in the tooltip, phase I points shaded.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll(".chart.control")) {
    const c = JSON.parse(el.dataset.chart);
    const labels = JSON.parse(el.dataset.labels || "[]").slice(-c.values.length);
    const n = c.values.length;
    const line = (v) => (Array.isArray(v) ? v : Array(n).fill(v));
    const rules = {};
    for (const v of c.violations || []) for (const p of v.points.concat([v.index])) (rules[p] = rules[p] || new Set()).add(v.rule);
    const cats = labels.length ? labels : c.values.map((_, i) => String(i + 1));
    const base = c.baseline || [];
    const prefix = base.length && base.length < n && base.every((b, i) => b === i) ? base.length : 0;
    const series = [
      { name: c.chart, type: "line", itemStyle: { color: "#1a73e8" }, data: c.values.map((v, i) => ({ value: v,
          itemStyle: { color: rules[i] ? "#d93025" : "#1a73e8" }, symbolSize: rules[i] ? 10 : 5 })),
        markArea: prefix ? { silent: true, itemStyle: { color: "rgba(26,115,232,0.10)" }, data: [[{ xAxis: cats[0] }, { xAxis: cats[prefix - 1] }]] } : undefined },
      { name: "UCL", type: "line", step: Array.isArray(c.ucl) ? "middle" : false, data: line(c.ucl), symbol: "none", itemStyle: { color: "#d93025" }, lineStyle: { color: "#d93025", type: "dashed" } },
      { name: "CL", type: "line", data: line(c.centre), symbol: "none", itemStyle: { color: "#1e8e3e" }, lineStyle: { color: "#1e8e3e" } },
      { name: "LCL", type: "line", step: Array.isArray(c.lcl) ? "middle" : false, data: line(c.lcl), symbol: "none", itemStyle: { color: "#d93025" }, lineStyle: { color: "#d93025", type: "dashed" } },
    ];
    if (c.c_minus) series.push({ name: "C-", type: "line", data: c.c_minus, lineStyle: { color: "#b06000" } });
    echarts.init(el).setOption({
      animation: false,
      legend: { top: 0 },
      tooltip: { trigger: "axis", formatter: (items) => {
        const i = items[0].dataIndex;
        const r = rules[i] ? " · " + Array.from(rules[i]).join(", ") : "";
        return `${labels[i] || i + 1}${r}<br>` + items.map((it) => `${it.seriesName}: ${Number(it.value).toPrecision(5)}`).join("<br>");
      } },
      xAxis: { type: "category", data: cats },
      yAxis: { type: "value", scale: true },
      series,
    });
  }
});
