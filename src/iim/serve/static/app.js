// iim-serve's page: send images to `predict`, draw the heads, show the maps, count, download. No dependencies.
"use strict";

(function () {
  const TOKEN_KEY = "iim-serve-token";
  const DEBOUNCE_MS = 250;
  const MAX_PARALLEL = 2; // requests in flight at once; the server batches and limits its queue

  const $ = (sel, root) => (root || document).querySelector(sel);
  const els = {
    fileInput: $("#file-input"),
    dropZone: $("#drop-zone"),
    offset: $("#offset"),
    offsetValue: $("#offset-value"),
    showMaps: $("#show-maps"),
    showBoxes: $("#show-boxes"),
    info: $("#info"),
    results: $("#results"),
    table: $("#counts-table"),
    countsEmpty: $("#counts-empty"),
    downloadJson: $("#download-json"),
    downloadCsv: $("#download-csv"),
    clear: $("#clear"),
    tokenBox: $("#token-box"),
    tokenForm: $("#token-form"),
    tokenInput: $("#token-input"),
    tokenMessage: $("#token-message"),
    limitsHint: $("#limits-hint"),
    template: $("#card-template"),
  };

  const items = []; // one per image: {id, file, name, card, row, image, result, offset, seq, needsToken}
  let nextId = 1;
  let infoNeedsToken = false;

  // ------------------------------------------------------------------------------------------- token and fetch
  let token = "";
  try {
    token = sessionStorage.getItem(TOKEN_KEY) || "";
  } catch (_) {
    token = "";
  }

  class NeedsToken extends Error {}

  function authHeaders(extra) {
    const headers = Object.assign({}, extra || {});
    if (token) headers.Authorization = "Bearer " + token;
    return headers;
  }

  async function errorText(response) {
    // The server answers {"error": "<code>", "detail": "<plain words>"}; fall back to the status line.
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (body && typeof body.detail === "string" && body.detail) return body.detail;
    if (body && Array.isArray(body.detail) && body.detail.length) {
      return body.detail.map((d) => (d && d.msg) || String(d)).join("; ");
    }
    if (body && typeof body.error === "string" && body.error) return body.error;
    return "the server answered " + response.status + (response.statusText ? " " + response.statusText : "");
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function api(url, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = authHeaders(opts.headers);
    let response;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await fetch(url, opts);
      } catch (err) {
        throw new Error("cannot reach the server (" + (err && err.message ? err.message : err) + ")");
      }
      // busy (503): wait as long as the server asks (Retry-After), a few times, then say so
      if (response.status !== 503 || attempt >= 3) break;
      const wait = Number(response.headers.get("Retry-After"));
      await sleep(1000 * Math.min(10, Number.isFinite(wait) && wait > 0 ? wait : 1) * (attempt + 1));
    }
    if (response.status === 401) {
      askForToken(Boolean(token));
      throw new NeedsToken(await errorText(response));
    }
    if (!response.ok) throw new Error(await errorText(response));
    return response.json();
  }

  function askForToken(rejected) {
    els.tokenBox.hidden = false;
    els.tokenMessage.textContent = rejected
      ? "The token was not accepted. Enter it again."
      : "Enter the access token you were given. It is kept only for this browser tab.";
    if (document.activeElement !== els.tokenInput) els.tokenInput.focus();
  }

  els.tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    token = els.tokenInput.value.trim();
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) {
      /* storage may be off; the token still lives in this page */
    }
    els.tokenBox.hidden = true;
    if (infoNeedsToken) loadInfo();
    for (const item of items) if (item.needsToken) request(item);
  });

  // ---------------------------------------------------------------------------------------------------- info
  function formatValue(value) {
    if (value === null || value === undefined) return "—";
    if (Array.isArray(value)) {
      return value.map((v) => (typeof v === "number" ? +v.toFixed(4) : formatValue(v))).join(", ");
    }
    if (typeof value === "object") {
      return Object.entries(value)
        .map(([k, v]) => k + ": " + formatValue(v))
        .join("; ");
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    return String(value);
  }

  function humanBytes(n) {
    if (typeof n !== "number") return String(n);
    if (n >= 1 << 20) return +(n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1 << 10) return +(n / (1 << 10)).toFixed(1) + " KiB";
    return n + " bytes";
  }

  function groupDigits(n) {
    return Number.isInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : String(n);
  }

  const LIMIT_LABELS = {
    max_upload_bytes: "Largest upload",
    max_pixels: "Largest image",
    max_batch_size: "Batch size (most)",
    batch_window_ms: "Batch window",
    max_pending: "Requests at once (most)",
    cors_origins: "CORS origins",
    retry_after_s: "Retry after (busy)",
  };

  function limitLabel(key) {
    if (LIMIT_LABELS[key]) return LIMIT_LABELS[key];
    const words = key.replace(/_(ms|s|bytes)$/, "").replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function limitValue(key, value) {
    if (Array.isArray(value) && value.length === 0) return "none";
    if (typeof value !== "number") return formatValue(value);
    if (/bytes$/.test(key)) return humanBytes(value);
    if (/pixels$/.test(key)) return groupDigits(value) + " px (" + +(value / 1e6).toFixed(1) + " MP)";
    if (/_ms$/.test(key)) return groupDigits(value) + " ms";
    if (/_s$/.test(key)) return groupDigits(value) + " s";
    return groupDigits(value);
  }

  function renderInfo(info) {
    els.info.textContent = "";
    const dl = document.createElement("dl");
    const rows = [
      ["Network", info.network],
      ["Predictor", info.predictor],
      ["Threshold encoder", info.threshold_encoder],
      ["Parameters", typeof info.parameters === "number" ? groupDigits(info.parameters) : info.parameters],
      ["Mean", info.mean],
      ["Std", info.std],
      ["iim version", info.iim_version],
      ["Device", info.device],
      ["Precision", info.precision],
    ];
    for (const [label, value] of rows) {
      if (value === undefined) continue;
      appendTerm(dl, label, formatValue(value));
    }
    const limits = info.limits && typeof info.limits === "object" ? info.limits : null;
    if (limits) {
      for (const [key, value] of Object.entries(limits)) appendTerm(dl, limitLabel(key), limitValue(key, value));
      const hints = [];
      if (typeof limits.max_upload_bytes === "number") hints.push("up to " + humanBytes(limits.max_upload_bytes));
      if (typeof limits.max_pixels === "number") {
        hints.push("at most " + +(limits.max_pixels / 1e6).toFixed(1) + " megapixels");
      }
      els.limitsHint.textContent = hints.length ? "Each image " + hints.join(", ") + "." : "";
    }
    if (info.min_area !== undefined) appendTerm(dl, "Smallest head", formatValue(info.min_area) + " px");
    if (info.connectivity !== undefined) appendTerm(dl, "Connectivity", formatValue(info.connectivity));
    if (info.token_required !== undefined) appendTerm(dl, "Token required", formatValue(info.token_required));
    els.info.appendChild(dl);
    if (info.config && typeof info.config === "object") {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = "Network config";
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(info.config, null, 2);
      details.append(summary, pre);
      els.info.appendChild(details);
    }
  }

  function appendTerm(dl, label, text) {
    const pair = document.createElement("div");
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = text;
    pair.append(dt, dd);
    dl.appendChild(pair);
  }

  async function loadInfo() {
    infoNeedsToken = false;
    try {
      renderInfo(await api("info"));
    } catch (err) {
      infoNeedsToken = err instanceof NeedsToken;
      els.info.textContent = "";
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = infoNeedsToken
        ? "The model's details need a token: " + err.message
        : "Cannot read the model's details: " + err.message;
      els.info.appendChild(p);
    }
  }

  // --------------------------------------------------------------------------------------------- the queue
  const queue = [];
  let running = 0;

  function enqueue(job) {
    return new Promise((resolve) => {
      queue.push(() => job().finally(resolve));
      pump();
    });
  }

  function pump() {
    while (running < MAX_PARALLEL && queue.length) {
      const job = queue.shift();
      running += 1;
      job().finally(() => {
        running -= 1;
        pump();
      });
    }
  }

  // ---------------------------------------------------------------------------------------------- requests
  function currentOffset() {
    const v = Number(els.offset.value);
    return Number.isFinite(v) ? Math.round(v * 100) / 100 : 0;
  }

  function uploadType(file) {
    // the file's own type when it names an image; anything else goes as bytes, and the server judges them
    // (browsers give no type, or a wrong one, for many files: .tif, no extension, ...)
    return file.type && file.type.startsWith("image/") ? file.type : "application/octet-stream";
  }

  function request(item) {
    item.seq += 1;
    const seq = item.seq;
    const offset = currentOffset();
    item.wantedOffset = offset;
    item.needsToken = false;
    item.card.dataset.state = "pending";
    setStatus(item, "working…");
    return enqueue(async () => {
      if (seq !== item.seq || !item.alive) return; // a newer request replaced this one while it queued
      const started = performance.now();
      try {
        const result = await api("predict?maps=true&threshold_offset=" + encodeURIComponent(String(offset)), {
          method: "POST",
          headers: { "Content-Type": uploadType(item.file) },
          body: item.file,
        });
        if (seq !== item.seq || !item.alive) return;
        result.client_ms = performance.now() - started;
        item.result = result;
        item.error = "";
        item.offset = offset;
        renderResult(item);
        item.card.dataset.offset = String(offset);
        item.card.dataset.state = "done";
      } catch (err) {
        if (seq !== item.seq || !item.alive) return;
        item.needsToken = err instanceof NeedsToken;
        item.result = null;
        item.offset = offset;
        showError(item, item.needsToken ? "This server needs a token: " + err.message : err.message);
        item.card.dataset.offset = String(offset);
        item.card.dataset.state = "error";
      } finally {
        if (seq === item.seq) updateTable();
      }
    });
  }

  // ------------------------------------------------------------------------------------------------- cards
  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    for (const file of files) {
      const card = els.template.content.firstElementChild.cloneNode(true);
      const item = {
        id: nextId++,
        file,
        name: file.name || "image " + nextId,
        card,
        row: null,
        image: null,
        result: null,
        error: "",
        offset: null,
        wantedOffset: null,
        seq: 0,
        alive: true,
        needsToken: false,
      };
      card.dataset.id = String(item.id);
      $(".name", card).textContent = item.name;
      $(".name", card).title = item.name;
      items.push(item);
      els.results.appendChild(card);
      applyMapsToggle(item);
      loadPreview(item);
      request(item);
    }
    updateTable();
  }

  function loadPreview(item) {
    const url = URL.createObjectURL(item.file);
    item.url = url;
    const img = new Image();
    img.onload = () => {
      item.image = img;
      drawOverlay(item);
    };
    img.onerror = () => {
      item.image = null;
      $(".overlay", item.card).hidden = true;
      // only worth saying when the server could read it (else the error says enough)
      if (item.result) $(".no-preview", item.card).hidden = false;
      item.noPreview = true;
    };
    img.src = url;
  }

  function setStatus(item, text) {
    $(".status", item.card).textContent = text;
  }

  function showError(item, text) {
    item.error = text;
    const el = $(".error", item.card);
    el.textContent = text;
    el.hidden = false;
    $(".count", item.card).textContent = "";
    $(".count-label", item.card).hidden = true;
    $(".maps", item.card).hidden = true;
    $(".no-preview", item.card).hidden = true;
    setStatus(item, "");
    drawOverlay(item);
  }

  function renderResult(item) {
    const r = item.result;
    const card = item.card;
    const err = $(".error", card);
    err.hidden = true;
    err.textContent = "";
    $(".count", card).textContent = String(r.count);
    const label = $(".count-label", card);
    label.hidden = false;
    label.textContent = r.count === 1 ? "head" : "heads";
    const ms = r.timings_ms && typeof r.timings_ms.total === "number" ? r.timings_ms.total : r.client_ms;
    const size = Array.isArray(r.image_size) ? r.image_size[1] + " × " + r.image_size[0] + " px, " : "";
    setStatus(item, size + Math.round(ms) + " ms, offset " + formatOffset(item.offset));
    if (r.maps) {
      $(".maps img.confidence", card).src = r.maps.confidence;
      $(".maps img.threshold", card).src = r.maps.threshold;
    }
    if (item.noPreview) $(".no-preview", card).hidden = false;
    applyMapsToggle(item);
    drawOverlay(item);
  }

  function applyMapsToggle(item) {
    const hasMaps = Boolean(item.result && item.result.maps);
    $(".maps", item.card).hidden = !(els.showMaps.checked && hasMaps);
  }

  function drawOverlay(item) {
    const canvas = $(".overlay", item.card);
    const img = item.image;
    if (!img) return;
    const w = img.naturalWidth;
    const h = img.naturalHeight;
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    canvas.hidden = false;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(img, 0, 0);
    const r = item.result;
    if (!r) return;
    // marks of about the same on-screen size at any resolution: image pixels per displayed pixel
    const shown = canvas.clientWidth || els.results.clientWidth || 400;
    const scale = Math.max(0.5, w / shown);
    if (els.showBoxes.checked && Array.isArray(r.boxes)) {
      ctx.lineWidth = 1.5 * scale;
      ctx.strokeStyle = "rgba(0, 230, 255, 0.95)";
      for (const b of r.boxes) ctx.strokeRect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    }
    const radius = 3.5 * scale;
    ctx.lineWidth = 1.2 * scale;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.85)";
    ctx.fillStyle = "rgba(255, 40, 60, 0.95)";
    for (const p of r.points || []) {
      ctx.beginPath();
      ctx.arc(p[0], p[1], radius, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }

  function formatOffset(v) {
    return (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(2);
  }

  // ------------------------------------------------------------------------------------------------- table
  function updateTable() {
    const tbody = els.table.tBodies[0];
    let total = 0;
    let totalMs = 0;
    let done = 0;
    for (const item of items) {
      if (!item.row) {
        item.row = tbody.insertRow();
        for (let i = 0; i < 4; i++) item.row.insertCell();
        item.row.cells[2].className = "num";
        item.row.cells[3].className = "num";
      }
      const cells = item.row.cells;
      const r = item.result;
      cells[0].textContent = item.name;
      cells[0].title = item.name;
      if (r) {
        const ms = r.timings_ms && typeof r.timings_ms.total === "number" ? r.timings_ms.total : r.client_ms;
        cells[1].textContent = Array.isArray(r.image_size) ? r.image_size[1] + " × " + r.image_size[0] : "";
        cells[2].textContent = String(r.count);
        cells[3].textContent = String(Math.round(ms));
        item.row.className = "";
        total += r.count;
        totalMs += ms;
        done += 1;
      } else {
        cells[1].textContent = "";
        cells[2].textContent = item.error ? "error" : "…";
        cells[3].textContent = "";
        item.row.className = item.error ? "row-error" : "row-pending";
      }
    }
    els.table.tFoot.querySelector(".total-count").textContent = String(total);
    els.table.tFoot.querySelector(".total-time").textContent = done ? String(Math.round(totalMs)) : "";
    els.countsEmpty.hidden = items.length > 0;
    els.table.hidden = items.length === 0;
    els.downloadJson.disabled = done === 0;
    els.downloadCsv.disabled = done === 0;
  }

  // --------------------------------------------------------------------------------------------- downloads
  function doneItems() {
    return items.filter((item) => item.result);
  }

  function save(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  function csvField(value) {
    const s = String(value);
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  els.downloadJson.addEventListener("click", () => {
    const data = doneItems().map((item) => ({
      name: item.name,
      image_size: item.result.image_size,
      count: item.result.count,
      threshold_offset: item.offset,
      points: item.result.points,
      boxes: item.result.boxes,
    }));
    save("heads.json", "application/json", JSON.stringify(data, null, 2) + "\n");
  });

  els.downloadCsv.addEventListener("click", () => {
    const lines = ["name,x,y"];
    for (const item of doneItems()) {
      for (const p of item.result.points) lines.push([csvField(item.name), p[0], p[1]].join(","));
    }
    save("heads.csv", "text/csv", lines.join("\n") + "\n");
  });

  // ------------------------------------------------------------------------------------------------ inputs
  els.fileInput.addEventListener("change", () => {
    addFiles(els.fileInput.files);
    els.fileInput.value = ""; // choosing the same file again adds it again
  });

  for (const type of ["dragenter", "dragover"]) {
    els.dropZone.addEventListener(type, (event) => {
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      els.dropZone.classList.add("over");
    });
  }
  for (const type of ["dragleave", "dragend"]) {
    els.dropZone.addEventListener(type, () => els.dropZone.classList.remove("over"));
  }
  els.dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    els.dropZone.classList.remove("over");
    if (event.dataTransfer) addFiles(event.dataTransfer.files);
  });
  // a file dropped beside the zone must not make the browser leave the page
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  let debounce = null;
  function onOffset() {
    els.offsetValue.textContent = formatOffset(currentOffset());
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      const offset = currentOffset();
      for (const item of items) if (item.wantedOffset !== offset) request(item);
    }, DEBOUNCE_MS);
  }
  els.offset.addEventListener("input", onOffset);
  els.offset.addEventListener("change", onOffset);

  els.showMaps.addEventListener("change", () => items.forEach(applyMapsToggle));
  els.showBoxes.addEventListener("change", () => items.forEach(drawOverlay));

  els.clear.addEventListener("click", () => {
    for (const item of items) {
      item.alive = false;
      item.card.remove();
      if (item.row) item.row.remove();
      if (item.url) URL.revokeObjectURL(item.url);
    }
    items.length = 0;
    updateTable();
  });

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => items.forEach(drawOverlay), 150);
  });

  els.offsetValue.textContent = formatOffset(currentOffset());
  updateTable();
  loadInfo();
})();
