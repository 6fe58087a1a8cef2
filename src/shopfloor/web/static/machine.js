// Machine page charts (ECharts): state timeline (Gantt), hourly output against target, downtime Pareto.
document.addEventListener("DOMContentLoaded", () => {
  const colours = { running: "#1e8e3e", idle: "#e8a200", setup: "#1a73e8", down: "#d93025", planned_stop: "#80868b", no_order: "#bdc1c6" };
  const timelineEl = document.getElementById("timeline");
  if (timelineEl) {
    const segs = JSON.parse(timelineEl.dataset.series);
    const labels = JSON.parse(timelineEl.dataset.labels);
    // Times in the site's zone, whatever the zone of the browser that shows them (ECharts would use its own).
    const zone = timelineEl.dataset.tz, lang = timelineEl.dataset.lang;
    const hm = new Intl.DateTimeFormat(lang, { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    const full = new Intl.DateTimeFormat(lang, { timeZone: zone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    echarts.init(timelineEl, null, { renderer: "svg" }).setOption({
      animation: false,
      // An element, not a string: ECharts inserts a string as HTML, and a reason is data anyone may have typed.
      tooltip: { formatter: (p) => {
        const tip = document.createElement("span");
        tip.append(`${labels[p.value[3]] || p.value[3]} ${p.value[4] || ""}`, document.createElement("br"),
                   `${full.format(new Date(p.value[1]))} – ${hm.format(new Date(p.value[2]))}`);
        return tip;
      } },
      xAxis: { type: "time", min: Date.parse(timelineEl.dataset.start), max: Date.parse(timelineEl.dataset.end),
               axisLabel: { formatter: (value) => hm.format(new Date(value)), hideOverlap: true } },
      yAxis: { type: "category", data: [""] },
      series: [{ type: "custom", renderItem: (params, api) => {
        const start = api.coord([api.value(1), 0]); const end = api.coord([api.value(2), 0]);
        const h = api.size([0, 1])[1] * 0.6;
        return { type: "rect", shape: { x: start[0], y: start[1] - h / 2, width: Math.max(end[0] - start[0], 1), height: h },
                 style: { fill: colours[api.value(3)] || "#999" } };
      }, encode: { x: [1, 2] }, data: segs.map((s) => [0, s.start, s.end, s.state, s.reason]) }],
    });
  }
  const hourlyEl = document.getElementById("hourly");
  if (hourlyEl) {
    const rows = JSON.parse(hourlyEl.dataset.series);
    const labels = JSON.parse(hourlyEl.dataset.labels);
    const target = Number(hourlyEl.dataset.target);
    echarts.init(hourlyEl).setOption({
      animation: false, tooltip: { trigger: "axis" }, legend: { data: [labels.good, labels.target] },
      xAxis: { type: "category", data: rows.map((r) => r.hour) }, yAxis: { type: "value" },
      series: [{ name: labels.good, type: "bar", data: rows.map((r) => r.gq), itemStyle: { color: "#1e8e3e" } },
               { name: labels.target, type: "line", data: rows.map(() => target), itemStyle: { color: "#d93025" } }],
    });
  }
  const paretoEl = document.getElementById("pareto");
  if (paretoEl) {
    const rows = JSON.parse(paretoEl.dataset.series);
    const labels = JSON.parse(paretoEl.dataset.labels);
    echarts.init(paretoEl).setOption({
      animation: false, tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: rows.map((r) => r.reason) },
      yAxis: [{ type: "value", name: labels.minutes }, { type: "value", max: 100, name: "%" }],
      series: [{ type: "bar", data: rows.map((r) => Math.round(r.seconds / 60)), itemStyle: { color: "#d93025" } },
               { type: "line", yAxisIndex: 1, data: rows.map((r) => r.cumulative_pct) }],
    });
  }
});
