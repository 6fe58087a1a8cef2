// Individuals charts of watched process values: values, centre line and frozen limits, violations in red.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll(".chart.spc")) {
    const c = JSON.parse(el.dataset.chart);
    const flagged = new Set(c.violations);
    echarts.init(el).setOption({
      animation: false, tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: c.ts },
      yAxis: { type: "value", scale: true },
      series: [
        { type: "line", data: c.values.map((v, i) => ({ value: v, itemStyle: { color: flagged.has(i) ? "#d93025" : "#1a73e8" },
          symbolSize: flagged.has(i) ? 10 : 4 })) },
        { type: "line", data: c.values.map(() => c.ucl), symbol: "none", lineStyle: { color: "#d93025", type: "dashed" } },
        { type: "line", data: c.values.map(() => c.centre), symbol: "none", lineStyle: { color: "#1e8e3e" } },
        { type: "line", data: c.values.map(() => c.lcl), symbol: "none", lineStyle: { color: "#d93025", type: "dashed" } },
      ],
    });
  }
});
