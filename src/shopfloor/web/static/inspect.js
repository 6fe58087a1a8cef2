// Terminal inspection: a sample of a characteristic (measured values, or a count of nonconforming units) is sent
// with the machine and the running order; the answer says whether the new point breaks a control-chart rule.
// A retry after a lost answer reuses the request key, so the sample is stored once.
(function () {
  const root = document.getElementById("pop");
  const box = document.getElementById("inspect");
  if (!root || !box) return;
  const keys = {};
  box.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const button = form.querySelector("button");
    const statusEl = form.querySelector(".status");
    const show = (text, cls) => { statusEl.textContent = text; statusEl.className = "status " + cls; };
    const body = { machine: root.dataset.machine, source: "terminal" };
    if (root.dataset.workOrder) body.work_order = root.dataset.workOrder;
    if (form.dataset.kind === "variable") {
      body.measurements = form.elements.values.value.replace(/;/g, " ").trim().split(/\s+/).filter(Boolean);
    } else {
      body.nonconforming = Number(form.elements.nonconforming.value);
      if (form.elements.inspected.value) body.inspected = Number(form.elements.inspected.value);
    }
    const what = form.dataset.id + "|" + JSON.stringify(body);
    keys[what] = keys[what] || ((window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random());
    button.disabled = true;
    try {
      let response;
      try {
        response = await fetch(`/api/v1/quality/characteristics/${form.dataset.id}/samples`, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf, "Idempotency-Key": keys[what] },
          body: JSON.stringify(body),
        });
      } catch (err) { show(box.dataset.msgOffline, "bad"); return; }
      if (response.status >= 500) { show(box.dataset.msgOffline, "bad"); return; }
      delete keys[what];
      const doc = await response.json().catch(() => ({}));
      if (!response.ok) { show(`${root.dataset.msgError}: ${window.refusalText(doc, response.status)}`, "bad"); return; }
      if (doc.violations && doc.violations.length) {
        show(`${box.dataset.msgOut}: ${doc.violations.map((v) => `${v.chart} ${v.rule}`).join(", ")}`, "bad");
      } else {
        show(box.dataset.msgRecorded, "ok");
      }
      form.classList.remove("due");
      form.reset();
    } finally { button.disabled = false; }
  });
})();
