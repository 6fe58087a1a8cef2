// The live board and a machine's page: time in state counts up here each second from the state's start (the
// server sends a tile only when a machine's data changes); the plant's and lines' totals arrive as "summary"
// events.  In TV mode the tiles are fitted to the screen (as many columns and rows as give the largest tiles)
// and, with a rotation, one line is shown after another.
(function () {
  const root = document.querySelector("[data-fmt-m]");
  if (!root) return;
  // The server's clock, not the tablet's: the page says what time it was when it was made.
  const offset = root.dataset.now ? Date.parse(root.dataset.now) - Date.now() : 0;
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  const number = new Intl.NumberFormat(root.dataset.lang || document.documentElement.lang);

  function duration(seconds) {
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return h ? fmt(root.dataset.fmtHm, { h: number.format(h), m: number.format(m) }) : fmt(root.dataset.fmtM, { m: number.format(m) });
  }

  function tick() {
    const now = Date.now() + offset;
    for (const tile of document.querySelectorAll(".tile[data-since]")) {
      const el = tile.querySelector(".in-state");
      if (el) el.textContent = duration(Math.max(0, (now - Date.parse(tile.dataset.since)) / 1000));
    }
  }

  function lineTotals() {
    // The summary carries each line's OEE; the headings show it.
    for (const tpl of document.querySelectorAll("#summary template[data-line]")) {
      for (const el of document.querySelectorAll(`.line-oee[data-line="${CSS.escape(tpl.dataset.line)}"]`)) {
        el.textContent = tpl.dataset.oee;
        el.title = tpl.dataset.title || "";  // effectiveness above 100 %: the likely cause
      }
    }
  }

  // -- TV mode: fit the grid to the screen ------------------------------------------------------------------
  const grid = document.querySelector(".tiles.fit");
  let shownLine = null;

  function visibleTiles() {
    return [...grid.querySelectorAll(".tile")].filter((t) => !shownLine || t.dataset.line === shownLine);
  }

  function fit() {
    if (!grid) return;
    const tiles = visibleTiles();
    for (const t of grid.querySelectorAll(".tile")) t.hidden = shownLine !== null && t.dataset.line !== shownLine;
    const n = Math.max(tiles.length, 1);
    const top = grid.getBoundingClientRect().top;
    const width = grid.clientWidth, height = window.innerHeight - top - 8, gap = 8;
    let best = { cols: 1, rows: n, size: 0 };
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const w = (width - gap * (cols - 1)) / cols, h = (height - gap * (rows - 1)) / rows;
      // A tile reads best about 1.5 times as wide as high: the size is what that shape leaves.
      const size = Math.min(w, h * 1.5);
      if (size > best.size) best = { cols, rows, size, w, h };
    }
    grid.style.gridTemplateColumns = `repeat(${best.cols}, minmax(0, 1fr))`;
    grid.style.gridAutoRows = `${Math.floor(best.h)}px`;
    // The type follows the tile: the largest that fits its height and width.
    grid.style.setProperty("--tile-font", `${Math.max(8, Math.min(best.h / 14.5, best.w / 16)).toFixed(1)}px`);
  }

  function rotate() {
    const seconds = parseInt(root.dataset.rotate || "0", 10);
    const lines = [...new Set([...document.querySelectorAll(".tiles.fit .tile")].map((t) => t.dataset.line))];
    if (!grid || !seconds || lines.length < 2) return;
    let i = 0;
    const show = () => {
      shownLine = lines[i % lines.length];
      for (const el of document.querySelectorAll(".tv-line [data-line]")) el.hidden = el.dataset.line !== shownLine;
      fit();
      i += 1;
    };
    show();
    setInterval(show, seconds * 1000);
  }

  document.body.addEventListener("htmx:afterSettle", (ev) => {
    if (ev.target && ev.target.id === "summary") lineTotals();
    tick();
    if (grid && ev.target && ev.target.classList && ev.target.classList.contains("tile")) fit();
  });
  // Full screen on the first touch of the TV (browsers allow it only after a gesture).
  if (grid) {
    document.addEventListener("click", () => {
      if (!document.fullscreenElement && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
    }, { once: true });
    window.addEventListener("resize", fit);
  }
  tick();
  setInterval(tick, 1000);
  rotate();
  fit();
})();
