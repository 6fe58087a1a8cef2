// Operator terminal: every tap becomes an entry with its own key and tap time, kept in this browser until the
// server confirms it is stored.  Entries are sent one at a time, in order; a resend carries the same key and
// time, so the server stores it once.  While the network is down the entries wait here and go out when it
// comes back.
(function () {
  const STORE = "shopfloor.pop.queue";
  const root = document.getElementById("pop");
  if (!root || !root.dataset.machine) return;
  const statusEl = document.getElementById("status");
  const queueEl = document.getElementById("queue");
  let sending = false;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  const load = () => JSON.parse(localStorage.getItem(STORE) || "[]");
  const save = (q) => localStorage.setItem(STORE, JSON.stringify(q));

  function show(text, cls) { statusEl.textContent = text; statusEl.className = "status " + cls; }
  function render() {
    queueEl.replaceChildren(...load().map((e) => {
      const li = document.createElement("li");
      li.textContent = `${e.machine} ${e.action}${e.quantity ? " " + e.quantity : ""} ${new Date(e.ts).toLocaleTimeString()}`;
      return li;
    }));
  }

  async function flush() {
    if (sending) return;
    sending = true;
    try {
      for (;;) {
        const queue = load();
        if (!queue.length) break;
        const entry = queue[0];
        let response;
        try {
          response = await fetch("/api/v1/pop/entries", {
            method: "POST", credentials: "same-origin",
            headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf },
            body: JSON.stringify(entry),
          });
        } catch (err) {
          show(root.dataset.msgQueued, "queued");
          setTimeout(flush, 3000);
          return;
        }
        if (response.status >= 500 || response.status === 401 || response.status === 429) {
          show(root.dataset.msgQueued, "queued");
          setTimeout(flush, 3000);
          return;
        }
        const rest = load().filter((e) => e.key !== entry.key);
        save(rest);
        render();
        if (response.ok) {
          const body = await response.json();
          if (entry.action === "start" || entry.action === "finish") {
            window.location.reload();  // the running order changed: show the new dispatch list
            return;
          }
          // on a machine that counts itself a typed count is a correction of its counter: said so
          const label = body.correction ? ` (${root.dataset.msgCorrection})` : "";
          show(`${root.dataset.msgStored}: ${entry.action}${entry.quantity ? " " + entry.quantity : ""}${label}`, "ok");
          for (const [cls, value] of Object.entries({ gq: body.gq, sq: body.sq })) {
            const el = document.querySelector("." + cls);
            if (el && value !== undefined && value !== null) el.textContent = value.toLocaleString();
          }
        } else {
          let problem = {};
          try { problem = await response.json(); } catch (e) { /* not JSON */ }
          if (problem.code === "terminal.count_implausible" && !entry.confirmed) {
            // A count the ideal cycle time cannot explain: the operator confirms, a supervisor approves with badge
            // and PIN; the entry then goes out again with its own key and time.
            if (window.confirm(problem.detail)) {
              const approver = window.prompt(root.dataset.msgApprover || "Supervisor badge");
              const pin = approver ? window.prompt(root.dataset.msgApproverPin || "PIN") : null;
              if (approver && pin) {
                save([{ ...entry, confirmed: true, approver, approver_pin: pin }, ...load()]);
                render();
                continue;
              }
            }
          }
          show(`${root.dataset.msgError}: ${problem.detail || ""}`, "bad");
        }
      }
    } finally {
      sending = false;
    }
  }

  function tap(button) {
    // One entry per tap: the button is locked until the entry is queued, so a double tap is one entry.
    if (button.disabled) return;
    button.disabled = true;
    setTimeout(() => { button.disabled = false; }, 600);
    const qty = parseInt(document.getElementById("qty").value, 10);
    const action = button.dataset.action;
    const entry = { key: uuid(), ts: new Date().toISOString(), machine: root.dataset.machine, action };
    // The order is taken at the tap: a resend of this entry names the same order whatever happened since.
    const order = button.dataset.workOrder || root.dataset.workOrder;
    if (order && action !== "finish") entry.work_order = order;
    if (action === "good" || action === "scrap") {
      if (!(qty >= 1)) { show(root.dataset.msgError, "bad"); return; }
      entry.quantity = qty;
    }
    if (action === "scrap") entry.defect = document.getElementById("defect").value;
    if (action === "reason") entry.reason = button.dataset.reason;
    const queue = load();
    queue.push(entry);
    save(queue);
    render();
    flush();
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) { ev.preventDefault(); tap(button); return; }
    const step = ev.target.closest("button[data-add], button[data-clear]");
    if (step) {
      ev.preventDefault();
      const field = document.getElementById("qty");
      field.value = step.dataset.clear ? 0 : (parseInt(field.value || "0", 10) + parseInt(step.dataset.add, 10));
    }
  });
  window.addEventListener("online", flush);
  // A recall that holds the running order's output reaches this terminal live: the board's event for this
  // machine carries its tile, whose recall notice (or none) replaces the one shown.
  const notice = document.getElementById("recall-notice");
  if (notice && window.EventSource) {
    const events = new EventSource("/board/stream");
    events.addEventListener("tile-" + root.dataset.machine, (ev) => {
      const held = new DOMParser().parseFromString(ev.data, "text/html").querySelector(".recall-hold");
      notice.replaceChildren(...(held ? [held] : []));
    });
  }
  render();
  flush();
})();
