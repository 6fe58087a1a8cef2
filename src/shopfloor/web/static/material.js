// Terminal material: a scanned (or typed) lot is issued to the order running on this machine, and an output
// lot is reported for it.  These need the server's answer at once (a lot on hold must be refused at the
// machine), so they are not queued offline.  Each request has a key; a retry after a lost answer reuses it, so
// the server does it once; a new scan or an answer from the server starts a new key.
(function () {
  const root = document.getElementById("pop");
  const box = document.getElementById("material");
  if (!root || !box) return;
  const codeEl = document.getElementById("lot-code");
  const qtyEl = document.getElementById("lot-qty");
  const statusEl = document.getElementById("lot-status");
  const pending = {};

  function key(kind, what) {
    const id = kind + ":" + what;
    if (!pending[id]) pending[id] = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
    return [id, pending[id]];
  }
  function show(text, cls, link) {
    statusEl.replaceChildren(document.createTextNode(text));
    if (link) {
      const a = document.createElement("a");
      a.href = link.href; a.target = "_blank"; a.textContent = link.text;
      statusEl.append(" · ", a);
    }
    statusEl.className = "status " + cls;
  }
  async function send(kind, url, body, what) {
    const [id, k] = key(kind, what);
    let response;
    try {
      response = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf, "Idempotency-Key": k },
        body: JSON.stringify(body),
      });
    } catch (err) {
      show(box.dataset.msgOffline, "bad");
      return null;
    }
    if (response.status >= 500) { show(box.dataset.msgOffline, "bad"); return null; }
    delete pending[id];
    const doc = await response.json().catch(() => ({}));
    if (!response.ok) { show(`${root.dataset.msgError}: ${window.refusalText(doc, response.status)}`, "bad"); return null; }
    return doc;
  }
  async function issue() {
    const code = codeEl.value.trim();
    if (!code) { codeEl.focus(); return; }
    const qty = qtyEl.value.trim();
    const doc = await send("issue", `/api/v1/lots/${encodeURIComponent(code)}/issue`,
      { work_order: root.dataset.workOrder, machine: root.dataset.machine, ...(qty ? { qty } : {}) }, code + "|" + qty);
    if (doc) { show(`${box.dataset.msgIssued}: ${doc.code} → ${root.dataset.workOrder} (${doc.qty} ${doc.unit})`, "ok"); codeEl.value = ""; qtyEl.value = ""; codeEl.focus(); }
  }
  async function output() {
    const qty = qtyEl.value.trim();
    if (!qty) { qtyEl.focus(); return; }
    const doc = await send("output", `/api/v1/work-orders/${encodeURIComponent(root.dataset.workOrder)}/output`,
      { qty, machine: root.dataset.machine }, qty);
    if (doc) {
      show(`${box.dataset.msgOutput}: ${doc.code} (${doc.qty} ${doc.unit})`, "ok",
        { href: `/api/v1/lots/${encodeURIComponent(doc.code)}/label.pdf`, text: box.dataset.msgLabel });
      qtyEl.value = "";
    }
  }
  box.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-lot]");
    if (!button || button.disabled) return;
    button.disabled = true;
    (button.dataset.lot === "issue" ? issue() : output()).finally(() => { button.disabled = false; });
  });
  codeEl.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); box.querySelector('[data-lot="issue"]').click(); } });
})();
