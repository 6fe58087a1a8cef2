// Terminal documents: the operator opens the revision in force of each document of an order and confirms it;
// the server refuses to start the order until every one is confirmed.  Confirmations need the server's answer
// (a revision may have been superseded meanwhile), so they are not queued offline.
(function () {
  const root = document.getElementById("pop");
  const box = document.getElementById("documents");
  if (!root || !box) return;
  const statusEl = document.getElementById("doc-status");
  function show(text, cls) { statusEl.textContent = text; statusEl.className = "status " + cls; }
  box.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button.doc-confirm");
    if (!button || button.disabled) return;
    ev.preventDefault();
    button.disabled = true;
    let response;
    try {
      response = await fetch("/api/v1/documents/confirmations", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify({ document: button.dataset.document, revision: button.dataset.revision, work_order: button.dataset.workOrder, machine: root.dataset.machine }),
      });
    } catch (err) {
      button.disabled = false;
      show(box.dataset.msgOffline, "bad");
      return;
    }
    const doc = await response.json().catch(() => ({}));
    if (!response.ok) { button.disabled = false; show(`${root.dataset.msgError}: ${doc.detail || response.status}`, "bad"); return; }
    const row = button.closest(".doc-row");
    row.classList.add("confirmed");
    const ok = document.createElement("span");
    ok.className = "doc-ok";
    ok.textContent = "✓ " + box.dataset.msgConfirmed;
    button.replaceWith(ok);
    show(`${box.dataset.msgConfirmed}: ${doc.document} ${doc.revision}`, "ok");
  });
})();
