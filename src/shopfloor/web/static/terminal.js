// Operator terminal: every tap becomes an entry with its own key and tap time, kept in this browser until the
// server confirms it is stored.  Entries are sent one at a time, in order; a resend carries the same key and
// time, so the server stores it once.  While the network is down the entries wait here and go out when it
// comes back.
// A refusal's text from the server's problem document, already in the page's language (the request sent it):
// the message, and each problem of several (a form or a request that does not match the schema).
window.refusalText = function (doc, status) {
  if (!doc || !doc.detail) return String(status || "");
  const parts = (doc.problems || []).map((p) => p.message).filter(Boolean);
  return parts.length ? `${doc.detail}: ${parts.join("; ")}` : doc.detail;
};

// The machines of this terminal (this device): kept in the browser, shown first in the chooser; with one, the
// terminal opens on it.
(function () {
  const KEY = "shopfloor.terminal.machines";
  const chooser = document.getElementById("chooser");
  if (!chooser) return;
  const mine = () => JSON.parse(localStorage.getItem(KEY) || "[]");
  const here = new URLSearchParams(window.location.search).get("machine");
  if (!here && mine().length === 1 && !new URLSearchParams(window.location.search).has("all")) {
    window.location.replace(`/terminal?machine=${encodeURIComponent(mine()[0])}`);
    return;
  }
  function mark() {
    const list = mine();
    for (const a of chooser.querySelectorAll("a.pick")) a.classList.toggle("mine", list.includes(a.dataset.machine));
    // This terminal's machines first, in the order they were chosen.
    const picks = [...chooser.querySelectorAll("a.pick")];
    picks.sort((a, b) => (list.includes(b.dataset.machine) ? 1 : 0) - (list.includes(a.dataset.machine) ? 1 : 0));
    chooser.append(...picks);
    const button = document.getElementById("mine");
    if (button) button.setAttribute("aria-pressed", String(list.includes(button.dataset.machine)));
  }
  const button = document.getElementById("mine");
  if (button) button.addEventListener("click", () => {
    const list = mine(), code = button.dataset.machine;
    localStorage.setItem(KEY, JSON.stringify(list.includes(code) ? list.filter((c) => c !== code) : [...list, code]));
    mark();
  });
  mark();
})();

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

  // An entry in the operator's words: the action's name, the quantity, the defect or reason chosen.
  const names = JSON.parse(root.dataset.actions || "{}");
  const codeNames = JSON.parse(root.dataset.codeNames || "{}");
  function describe(e) {
    const what = e.defect || e.reason;
    return [names[e.action] || e.action, e.quantity, what ? codeNames[what] || what : null].filter((x) => x !== undefined && x !== null).join(" ");
  }
  function show(text, cls) { statusEl.textContent = text; statusEl.className = "status " + cls; }
  function render() {
    queueEl.replaceChildren(...load().map((e) => {
      const li = document.createElement("li");
      li.textContent = `${e.machine} ${describe(e)} ${new Date(e.ts).toLocaleTimeString(document.documentElement.lang)}`;
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
          show(`${root.dataset.msgStored}: ${describe(entry)}${label}`, "ok");
          if (entry.action === "scrap") flushPhotos();
          for (const [cls, value] of Object.entries({ gq: body.gq, sq: body.sq })) {
            const el = document.querySelector("." + cls);
            if (el && value !== undefined && value !== null) el.textContent = value.toLocaleString();
          }
        } else {
          let doc = null;
          try { doc = await response.json(); } catch (e) { /* not JSON */ }
          if (doc && doc.code === "terminal.count_implausible" && !entry.confirmed) {
            // A count the ideal cycle time cannot explain: the operator confirms, a supervisor approves with badge
            // and PIN; the entry then goes out again with its own key and time.
            if (window.confirm(doc.detail)) {
              const approver = window.prompt(root.dataset.msgApprover || "Supervisor badge");
              const pin = approver ? window.prompt(root.dataset.msgApproverPin || "PIN") : null;
              if (approver && pin) {
                save([{ ...entry, confirmed: true, approver, approver_pin: pin }, ...load()]);
                render();
                continue;
              }
            }
          }
          show(`${root.dataset.msgError}: ${window.refusalText(doc, response.status)}`, "bad");
          if (entry.action === "scrap") dropPhoto(entry.key);  // no scrap entry: its photo has nothing to go with
        }
      }
    } finally {
      sending = false;
    }
  }

  // The photo of a scrap's defect is kept in the tablet (IndexedDB) from the tap until the server has stored it,
  // like the entries: it goes once its scrap entry is stored, named by the entry's key, and again after a failure
  // of the network or the server (the server answers a photo sent twice with the one it stored).
  const PHOTO_DB = "shopfloor-terminal-photos";
  function photoStore(mode, work) {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(PHOTO_DB, 1);
      open.onupgradeneeded = () => open.result.createObjectStore("photos", { keyPath: "key" });
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const tx = db.transaction("photos", mode);
        const request = work(tx.objectStore("photos"));
        tx.oncomplete = () => { db.close(); resolve(request ? request.result : undefined); };
        tx.onerror = tx.onabort = () => { db.close(); reject(tx.error); };
      };
    });
  }
  async function keepPhoto(entry, file) {
    await photoStore("readwrite", (s) => s.put({ key: entry.key, machine: entry.machine, defect: entry.defect || "",
                                                 name: file.name, blob: file }));
    flushPhotos();
  }
  function dropPhoto(key) { photoStore("readwrite", (s) => s.delete(key)).catch(() => {}); }

  let sendingPhotos = false;
  async function flushPhotos() {
    if (sendingPhotos) return;
    sendingPhotos = true;
    try {
      const waiting = new Set(load().map((e) => e.key));  // scrap entries not stored yet: their photos wait
      for (const p of await photoStore("readonly", (s) => s.getAll())) {
        if (waiting.has(p.key)) continue;
        const form = new FormData();
        form.append("machine", p.machine); form.append("key", p.key); form.append("defect", p.defect);
        form.append("photo", p.blob, p.name || "photo");
        let response;
        try {
          response = await fetch("/api/v1/pop/photos", {
            method: "POST", credentials: "same-origin", body: form,
            headers: { "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf },
          });
        } catch (err) {
          setTimeout(flushPhotos, 5000);
          return;
        }
        if (response.status >= 500 || response.status === 401 || response.status === 429) {
          setTimeout(flushPhotos, 5000);
          return;
        }
        await photoStore("readwrite", (s) => s.delete(p.key));
        if (!response.ok) {
          let doc = null;
          try { doc = await response.json(); } catch (e) { /* not JSON */ }
          show(`${root.dataset.msgError}: ${window.refusalText(doc, response.status)}`, "bad");
        }
      }
    } catch (err) {
      /* no IndexedDB (a private window): the photo was not kept, nothing to send */
    } finally {
      sendingPhotos = false;
    }
  }

  const noteButton = document.getElementById("handover-save");
  if (noteButton) noteButton.addEventListener("click", async () => {
    const status = document.getElementById("handover-status");
    let response;
    try {
      response = await fetch("/api/v1/pop/handover", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang, "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify({ machine: root.dataset.machine, text: document.getElementById("handover-text").value }),
      });
    } catch (e) { status.textContent = root.dataset.msgError; status.className = "status bad"; return; }
    if (response.ok) { status.textContent = noteButton.dataset.msgSaved; status.className = "status ok"; return; }
    let doc = null;
    try { doc = await response.json(); } catch (e) { /* not JSON */ }
    status.textContent = `${root.dataset.msgError}: ${window.refusalText(doc, response.status)}`; status.className = "status bad";
  });

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
      if (!(qty >= 1)) { show(`${root.dataset.msgError}: ${root.dataset.msgQuantity}`, "bad"); return; }
      entry.quantity = qty;
    }
    if (action === "scrap") {
      entry.defect = document.getElementById("defect").value;
      const photo = document.getElementById("defect-photo");
      if (photo && photo.files && photo.files.length) {
        keepPhoto(entry, photo.files[0]).catch((err) => show(`${root.dataset.msgError}: ${err}`, "bad"));
        photo.value = "";  // kept with the entry: the next scrap starts without a photo
      }
    }
    if (action === "reason") {
      entry.reason = button.dataset.reason;
      // The stop is explained once the entry is queued: the question gives the screen back.
      const question = document.getElementById("stop-question");
      if (question) question.remove();
    }
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
  // A reason's own colour (set here: the page's policy allows no style attributes in its markup).
  for (const b of document.querySelectorAll("[data-colour]")) b.style.background = b.dataset.colour;
  window.addEventListener("online", () => { flush(); flushPhotos(); });
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
  // An unexplained stop becomes a question after a few minutes of planned time: the page asks then.
  if (root.dataset.askAt) {
    const wait = Date.parse(root.dataset.askAt) - Date.now();
    if (wait < 24 * 3600 * 1000) setTimeout(() => window.location.reload(), Math.max(wait, 0) + 1000);
  }
  render();
  flush();
  flushPhotos();
})();
