// Terminal maintenance: the operator calls maintenance for a breakdown of this machine.  It needs the server's
// answer (a request may be open already), so it is not queued offline.
(function () {
  const root = document.getElementById("pop");
  const box = document.getElementById("maintenance");
  const button = document.getElementById("mt-call");
  if (!root || !box || !button) return;
  const statusEl = document.getElementById("mt-status");
  function show(text, cls) { statusEl.textContent = text; statusEl.className = "status " + cls; }
  button.addEventListener("click", async (ev) => {
    ev.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    const description = (document.getElementById("mt-description").value || "").trim();
    let response;
    try {
      response = await fetch("/api/v1/maintenance/breakdowns", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify({ machine: root.dataset.machine, ...(description ? { description } : {}) }),
      });
    } catch (err) {
      button.disabled = false;
      show(box.dataset.msgOffline, "bad");
      return;
    }
    const doc = await response.json().catch(() => ({}));
    if (!response.ok) { button.disabled = false; show(`${root.dataset.msgError}: ${doc.detail || response.status}`, "bad"); return; }
    show(`${box.dataset.msgRaised}: ${doc.code}`, "ok");
  });
})();
