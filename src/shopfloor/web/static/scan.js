// Scanning at the terminal: a keyboard-wedge scanner types a code and Enter faster than a person; the tablet's
// camera reads one too (the browser's BarcodeDetector where it has one, else ZXing).  A scanned work order of
// this machine's dispatch list is started; anything else is a lot, put in the lot field and issued to the
// running order.  The camera needs a secure page (https, or localhost).
(function () {
  const root = document.getElementById("pop");
  if (!root || !root.dataset.machine) return;

  function scanned(code) {
    code = code.trim();
    if (!code) return;
    const order = [...document.querySelectorAll("button.order-pick[data-work-order]")].find((b) => b.dataset.workOrder === code);
    if (order) { order.click(); return; }
    const lot = document.getElementById("lot-code");
    if (lot) {
      lot.value = code;
      lot.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    }
  }
  window.terminalScanned = scanned;

  // The wedge: keys typed outside any field, each within 50 ms of the last, ended by Enter.
  let buffer = "", last = 0;
  document.addEventListener("keydown", (ev) => {
    const field = ev.target.closest && ev.target.closest("input, textarea, select");
    if (field) return;
    const now = performance.now();
    if (now - last > 50) buffer = "";
    last = now;
    if (ev.key === "Enter") { if (buffer.length >= 3) { ev.preventDefault(); scanned(buffer); } buffer = ""; return; }
    if (ev.key.length === 1) buffer += ev.key;
  });

  // The camera.
  const open = document.getElementById("scan-camera");
  if (!open) return;
  const overlay = document.getElementById("scanner");
  const video = overlay.querySelector("video");
  let stop = () => {};

  function close() { stop(); stop = () => {}; overlay.hidden = true; }
  function found(text) { close(); scanned(text); }

  async function withDetector() {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    await video.play();
    const detector = new window.BarcodeDetector();
    let running = true;
    stop = () => { running = false; stream.getTracks().forEach((t) => t.stop()); video.srcObject = null; };
    while (running) {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) { found(codes[0].rawValue); return; }
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function withZxing() {
    const reader = new window.ZXing.BrowserMultiFormatReader();
    stop = () => reader.reset();
    await reader.decodeFromConstraints({ video: { facingMode: "environment" } }, video, (result) => {
      if (result) found(result.getText());
    });
  }

  open.addEventListener("click", async () => {
    overlay.hidden = false;
    try {
      if ("BarcodeDetector" in window) await withDetector();
      else await withZxing();
    } catch (err) {
      close();
      const status = document.getElementById("lot-status");
      if (status) { status.textContent = `${root.dataset.msgError}: ${open.dataset.msgNoCamera}`; status.className = "status bad"; }
    }
  });
  overlay.querySelector("button.close").addEventListener("click", close);
})();
