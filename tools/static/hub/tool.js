// The run page: pick or drop files, check them against the catalog, send them, watch the run, download.
// Everything goes through the JSON API with the session cookie; every value is shown through textContent.
(function () {
  "use strict";
  const page = document.getElementById("tool-page");
  if (!page) return;
  const config = JSON.parse(document.getElementById("tool-config").textContent);
  const tool = config.tool;
  let limits = config.limits;
  const $ = (id) => document.getElementById(id);
  const form = $("run-form"), input = $("file-input"), dropzone = $("dropzone"), chosen = $("chosen"), picker = $("picker");
  const formError = $("form-error"), button = $("run-button"), progress = $("upload-progress");
  const result = $("run"), badge = $("run-badge"), statusLine = $("run-status"), meta = $("run-meta");
  const download = $("run-download"), remove = $("run-delete"), again = $("run-again");
  const csrf = (document.querySelector("[name=csrfmiddlewaretoken]") || {}).value || "";

  // Browsers leave File.type empty for some files: the extension stands in.
  const BY_EXTENSION = { pdf: "application/pdf", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", webp: "image/webp", gif: "image/gif" };
  const TYPE_NAMES = { "application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF" };
  const STATUS_TEXT = { PENDING: "Queued: waiting for a worker…", PROCESSING: "Processing…", COMPLETED: "Completed.", FAILED: "Failed." };
  const META_LABELS = { pages: "Pages", inputFiles: "Files merged", compressionRatio: "Size after", width: "Width", height: "Height", format: "Format", from: "From", to: "To" };

  let files = [];
  let idempotencyKey = null; // one per selection: a double click or a retry sends the same key
  const uploaded = new Map(); // file -> its upload id, once its bytes are in the bucket (a retry reuses it)
  let busy = false;
  let watching = 0; // the current run's watch; a newer one (or "Run another") ends older loops

  const number = new Intl.NumberFormat();
  function bytes(n) {
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  }
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  function typeOf(file) {
    if (file.type) return file.type;
    const ext = (file.name.split(".").pop() || "").toLowerCase();
    return BY_EXTENSION[ext] || "";
  }
  function accepts() { return tool.accepted_types.map((t) => TYPE_NAMES[t] || t).join(", "); }
  page.querySelector('[data-field="accepts"]').textContent = accepts();

  function showError(text) { formError.textContent = text; page.dataset.state = text ? "error" : page.dataset.state; }

  // --- choosing files: checked here against the catalog before a byte is sent ---
  function addFiles(list) {
    const problems = [];
    for (const file of list) {
      if (files.some((f) => f.name === file.name && f.size === file.size && f.lastModified === file.lastModified)) continue;
      if (!tool.accepted_types.includes(typeOf(file))) { problems.push(`${file.name} is not a ${accepts()} file`); continue; }
      if (file.size > limits.max_file_bytes) { problems.push(`${file.name} is ${bytes(file.size)}, over your plan's ${bytes(limits.max_file_bytes)} per file`); continue; }
      if (!file.size) { problems.push(`${file.name} is empty`); continue; }
      if (files.length >= tool.max_files) { problems.push(`${tool.name} takes at most ${tool.max_files} file${tool.max_files > 1 ? "s" : ""}`); break; }
      files.push(file);
    }
    selectionChanged();
    showError(problems.length ? `${problems.join("; ")}.` : "");
  }
  function selectionChanged() {
    idempotencyKey = null;
    uploaded.clear();
    chosen.replaceChildren();
    files.forEach((file, index) => {
      const item = el("li");
      item.append(el("span", "name", file.name), el("span", "size", bytes(file.size)));
      const drop = el("button", "link", "Remove");
      drop.type = "button";
      drop.setAttribute("aria-label", `Remove ${file.name}`);
      drop.addEventListener("click", () => {
        files.splice(index, 1);
        selectionChanged();
        showError("");
        // Focus stays in the list: the next file's Remove, else the picker.
        const next = chosen.querySelectorAll("button")[Math.min(index, files.length - 1)];
        (next || input).focus();
      });
      item.append(drop);
      chosen.append(item);
    });
  }
  input.addEventListener("change", () => {
    if (busy) return;
    if (tool.max_files === 1) files = [];
    addFiles(input.files);
    input.value = "";
  });
  // A file dropped beside the zone must not make the browser leave the page to show it.
  for (const name of ["dragover", "drop"]) window.addEventListener(name, (event) => event.preventDefault());
  for (const name of ["dragenter", "dragover"]) {
    dropzone.addEventListener(name, (event) => { event.preventDefault(); if (!busy) dropzone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    dropzone.addEventListener(name, () => dropzone.classList.remove("over"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (busy) return; // the selection is being sent
    if (tool.max_files === 1) files = [];
    addFiles(event.dataTransfer.files);
  });

  // --- sending ---
  function request(method, url, { body = null, headers = {}, onProgress = null } = {}) {
    // XMLHttpRequest rather than fetch: upload progress events.
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      if (onProgress) xhr.upload.addEventListener("progress", (event) => { if (event.lengthComputable) onProgress(event.loaded); });
      xhr.addEventListener("load", () => {
        let data = null;
        try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch (error) { data = null; }
        resolve({ status: xhr.status, data });
      });
      xhr.addEventListener("error", () => resolve({ status: 0, data: null }));
      xhr.send(body);
    });
  }
  const apiHeaders = () => ({ "X-CSRFToken": csrf, Accept: "application/json" });

  function apiError(response) {
    const data = response.data || {};
    if (response.status === 0 && !data.detail) return "The connection failed; nothing was charged twice. Try again.";
    let text = data.detail && typeof data.detail === "string" ? data.detail
      : Array.isArray(data.detail) ? data.detail.map((p) => `${p.field}: ${p.message}`).join("; ") : `The server answered ${response.status}.`;
    if (response.status === 402) text += " Top up or change plan on the Plans page.";
    if (response.status === 429 && data.resets_at) text += ` Your runs reset ${new Date(data.resets_at).toLocaleString()}.`;
    return text;
  }

  function setProgress(sent, total) {
    progress.hidden = false;
    progress.value = total ? Math.round((100 * sent) / total) : 0;
  }

  async function sendDirect(selection, key) {
    // 1. reserve each file's place in the bucket, 2. send its bytes there, 3. start the run with the ids.
    // A file already sent (a retry after a later one failed) keeps its upload id.
    const total = selection.reduce((sum, f) => sum + f.size, 0);
    let done = 0;
    for (const file of selection) {
      if (uploaded.has(file)) { done += file.size; continue; }
      const reserved = await request("POST", "/api/uploads", {
        body: JSON.stringify({ tool_id: tool.id, file_name: file.name, content_type: typeOf(file), size: file.size }),
        headers: { ...apiHeaders(), "Content-Type": "application/json" },
      });
      if (reserved.status !== 201) return reserved;
      const target = reserved.data.target;
      let sent;
      if (target.method === "POST") {
        const body = new FormData();
        for (const [name, value] of Object.entries(target.fields)) body.append(name, value);
        body.append("file", file);
        sent = await request("POST", target.url, { body, onProgress: (n) => setProgress(done + n, total) });
      } else {
        sent = await request("PUT", target.url, { body: file, headers: target.headers, onProgress: (n) => setProgress(done + n, total) });
      }
      if (sent.status < 200 || sent.status >= 300) {
        // Like a lost connection: the files already sent keep their upload ids for the retry.
        const why = sent.status ? `storage answered ${sent.status}` : "the connection to storage failed";
        return { status: 0, data: { detail: `${file.name} was not sent (${why}); try again.` } };
      }
      done += file.size;
      uploaded.set(file, reserved.data.upload_id);
    }
    const body = new FormData();
    body.append("tool_id", tool.id);
    for (const file of selection) body.append("upload_id", uploaded.get(file));
    return request("POST", "/api/runs", { body, headers: { ...apiHeaders(), "Idempotency-Key": key } });
  }

  function sendMultipart(selection, key) {
    const body = new FormData();
    body.append("tool_id", tool.id);
    for (const file of selection) body.append("file", file, file.name);
    const total = selection.reduce((sum, f) => sum + f.size, 0);
    return request("POST", "/api/runs", {
      body,
      headers: { ...apiHeaders(), "Idempotency-Key": key },
      onProgress: (n) => setProgress(Math.min(n, total), total),
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return; // the second click of a double click, or a click while sending
    if (files.length < tool.min_files) { showError(`Choose ${tool.min_files > 1 ? `at least ${tool.min_files} files` : "a file"} first.`); return; }
    busy = true;
    // aria-disabled, not disabled: a disabled button would drop the keyboard focus.
    button.setAttribute("aria-disabled", "true");
    picker.disabled = true; // the selection cannot change while it is being sent
    form.setAttribute("aria-busy", "true");
    page.dataset.state = "sending";
    showError("");
    // Taken once, here: what is sent is this selection under this key, whatever happens meanwhile.
    const key = (idempotencyKey = idempotencyKey || newKey());
    const selection = files.slice();
    setProgress(0, 1);
    const response = config.upload === "direct" ? await sendDirect(selection, key) : await sendMultipart(selection, key);
    busy = false;
    button.removeAttribute("aria-disabled");
    picker.disabled = false;
    form.removeAttribute("aria-busy");
    progress.hidden = true;
    if (response.status === 200 || response.status === 201) {
      // Started: the next click is a new run of its own (a new key; direct uploads are used up).
      idempotencyKey = null;
      uploaded.clear();
      page.dataset.state = "running";
      showRun(response.data);
      watch(response.data.id);
    } else {
      // Refused or lost. Uploads stay reusable only when the server may not have looked at them yet
      // (no answer, no credits, quota, busy); any other refusal deleted or rejected them.
      if (![0, 402, 429, 503].includes(response.status)) uploaded.clear();
      page.dataset.state = "error";
      showError(apiError(response));
      formError.dataset.status = String(response.status);
    }
  });

  // --- watching the run: polling with backoff until it is finished ---
  async function watch(runId) {
    // 50 ms, then a quarter longer each time up to 1 s: a quick run is seen within a few tens of
    // milliseconds, a long one costs a request a second. Ends on a final state, on a refusal (signed
    // out, gone), after an hour, or when a newer watch (or "Run another") takes over.
    const mine = ++watching;
    const until = Date.now() + 3600 * 1000;
    let delay = 50;
    while (mine === watching && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(1000, delay * 1.25);
      if (mine !== watching) return;
      const response = await request("GET", `/api/history/${runId}`, { headers: { Accept: "application/json" } });
      if (mine !== watching) return;
      if (response.status === 404) { say("This run was deleted."); return; }
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        say(apiError(response));
        return;
      }
      if (response.status !== 200) continue; // a blip (5xx, no answer, 429): keep watching
      showRun(response.data);
      if (response.data.status === "COMPLETED" || response.data.status === "FAILED") {
        page.dataset.state = response.data.status.toLowerCase();
        refreshStanding();
        return;
      }
    }
  }

  // The live region is written only when its text changes: a screen reader re-reads every write.
  function say(text) { if (statusLine.textContent !== text) statusLine.textContent = text; }

  function showRun(run) {
    result.hidden = false;
    result.dataset.runId = run.id;
    result.dataset.status = run.status;
    badge.className = `badge ${run.status}`;
    badge.textContent = run.status;
    let failed = "";
    if (run.status === "FAILED") {
      failed = run.error_message ? ` ${run.error_message}` : "";
      if (run.credits_charged) failed += ` Your ${run.credits_charged} credit${run.credits_charged === 1 ? " was" : "s were"} refunded.`;
    }
    say(`${STATUS_TEXT[run.status] || run.status}${failed}`);
    meta.replaceChildren();
    const rows = [["Input", run.input_file_name], ["Credits", String(run.credits_charged)]];
    if (run.status === "COMPLETED") {
      rows.push(["Output", `${run.output_file_name} (${bytes(run.bytes_out)})`]);
      for (const [key, value] of Object.entries(run.metadata || {})) {
        if (!(key in META_LABELS)) continue;
        rows.push([META_LABELS[key], key === "compressionRatio" ? `${Math.round(value * 100)}% of the original` : String(value)]);
      }
      rows.push(["Deleted", new Date(run.expires_at).toLocaleString()]);
    }
    for (const [term, value] of rows) meta.append(el("dt", "", term), el("dd", "", value));
    download.hidden = run.status !== "COMPLETED";
    download.href = `/api/runs/${run.id}/download`;
    remove.hidden = !(run.status === "COMPLETED" || run.status === "FAILED");
  }

  async function refreshStanding() {
    const response = await request("GET", "/api/tools", { headers: { Accept: "application/json" } });
    if (response.status !== 200) return;
    limits = response.data.limits;
    const parts = [];
    if (limits.credits_remaining !== null) parts.push(`${number.format(limits.credits_remaining)} credits left`);
    if (limits.runs_per_window !== null) parts.push(`${limits.runs_used} of ${limits.runs_per_window} runs used this ${limits.usage_window}`);
    page.querySelector('[data-field="standing"]').textContent = parts.join(" · ");
  }

  remove.addEventListener("click", async () => {
    const runId = result.dataset.runId;
    remove.disabled = true;
    const response = await request("DELETE", `/api/history/${runId}`, { headers: apiHeaders() });
    remove.disabled = false;
    if (response.status === 204 || response.status === 404) {
      watching++; // nothing left to watch
      result.dataset.status = "DELETED";
      say("Deleted, with its files.");
      download.hidden = true;
      remove.hidden = true;
      meta.replaceChildren();
      again.focus(); // the focused Delete button is gone
    } else {
      say(apiError(response));
    }
  });

  again.addEventListener("click", () => {
    watching++; // the previous run's watch ends; its result no longer shows
    files = [];
    selectionChanged();
    result.hidden = true;
    page.dataset.state = "idle";
    input.focus();
  });
})();
