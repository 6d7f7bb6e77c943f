// openbg "try it" page: calls POST /v1.0/removebg like any client. Standard library only.
// The API key stays in this page's memory unless "remember on this browser" is ticked (then localStorage).
// API error text is shown with textContent, never parsed as HTML.
"use strict";
(function () {
  const STORE = "openbg.apiKey";
  const $ = (id) => document.getElementById(id);
  const form = $("form"), keyInput = $("key"), remember = $("remember"), drop = $("drop"), fileInput = $("file");
  const urlInput = $("url"), msg = $("msg"), busy = $("busy"), go = $("go");
  let photo = null;       // the picked / dropped / pasted File
  let origUrl = null;     // blob: URL of the original
  let resultUrl = null;   // blob: URL of what the API answered (download)
  let viewUrl = null;     // blob: URL shown as the result (the ZIP's composite, or resultUrl)

  // ---------------------------------------------------------------- the key
  try {
    const saved = window.localStorage.getItem(STORE);
    if (saved) { keyInput.value = saved; remember.checked = true; }
  } catch (e) { /* storage disabled: the key stays in the page */ }
  function storeKey() {
    try {
      if (remember.checked && keyInput.value.trim()) window.localStorage.setItem(STORE, keyInput.value.trim());
      else window.localStorage.removeItem(STORE);
    } catch (e) { /* ignore */ }
  }
  remember.addEventListener("change", storeKey);
  keyInput.addEventListener("change", storeKey);

  // ---------------------------------------------------------------- picking a photo
  function setPhoto(file) {
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) { showError("Not an image", file.name + " is " + file.type); return; }
    photo = file;
    urlInput.value = "";
    $("picked").textContent = "Selected: " + (file.name || "pasted image") + " (" + fmtBytes(file.size) + ")";
    if (origUrl) URL.revokeObjectURL(origUrl);
    origUrl = URL.createObjectURL(file);
    showImage($("orig-view"), origUrl, "Original photo");
    clearMsg();
  }
  drop.addEventListener("click", () => fileInput.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); fileInput.click(); } });
  fileInput.addEventListener("change", () => setPhoto(fileInput.files[0]));
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer && e.dataTransfer.files.length) setPhoto(e.dataTransfer.files[0]); });
  document.addEventListener("paste", (e) => {
    const items = (e.clipboardData && e.clipboardData.files) || [];
    for (const f of items) { if (f.type.startsWith("image/")) { setPhoto(f); e.preventDefault(); return; } }
  });
  urlInput.addEventListener("input", () => {
    if (urlInput.value.trim()) {
      photo = null; fileInput.value = ""; $("picked").textContent = "";
      const v = $("orig-view"); v.replaceChildren(placeholder("The server fetches the URL; this page does not load it."));
    }
  });
  $("bgmode").addEventListener("change", () => {
    const m = $("bgmode").value;
    $("bg-color-row").hidden = m !== "color";
    $("bg-image-row").hidden = m !== "image";
  });

  // ---------------------------------------------------------------- the request
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearMsg();
    const key = keyInput.value.trim();
    if (!key) { showError("API key missing", "Type your API key first (ask your openbg operator, or see `openbg keys create`)."); keyInput.focus(); return; }
    storeKey();
    const fd = new FormData();
    if (photo) fd.append("image_file", photo, photo.name || "image.png");
    else if (urlInput.value.trim()) fd.append("image_url", urlInput.value.trim());
    else { showError("No photo", "Drop, paste or pick a photo, or give an image URL."); return; }
    fd.append("size", $("size").value);
    fd.append("format", $("format").value);
    fd.append("type", $("type").value);
    if ($("quality").value) fd.append("quality", $("quality").value);
    const bg = $("bgmode").value;
    if (bg === "color") fd.append("bg_color", $("bgcolor").value.replace("#", ""));
    if (bg === "image") {
      const b = $("bgfile").files[0];
      if (!b) { showError("No background image", "Pick a background image, or choose another background."); return; }
      fd.append("bg_image_file", b, b.name);
    }
    if ($("crop").checked) {
      fd.append("crop", "true");
      if ($("margin").value.trim()) fd.append("crop_margin", $("margin").value.trim());
    }
    if ($("shadow").value) {
      fd.append("shadow_type", $("shadow").value);
      if ($("opacity").value.trim()) fd.append("shadow_opacity", $("opacity").value.trim());
    }
    go.disabled = true;
    clearResult();
    busy.textContent = "Working…";
    const t0 = performance.now();
    let resp;
    try {
      resp = await fetch("/v1.0/removebg", { method: "POST", body: fd, headers: { "X-API-Key": key }, credentials: "omit", cache: "no-store" });
    } catch (err) {
      go.disabled = false; busy.textContent = "";
      showError("Network error", "The server could not be reached (" + err.message + ").");
      return;
    }
    const blob = await resp.blob();
    const ms = performance.now() - t0;
    go.disabled = false; busy.textContent = "";
    if (!resp.ok) { await showApiError(resp, blob); return; }
    await showResult(resp, blob, ms);
  });

  async function showApiError(resp, blob) {
    let title = "Error " + resp.status, detail = "", code = "";
    try {
      const j = JSON.parse(await blob.text());
      const e0 = (j.errors || [])[0] || {};
      title = e0.title || title; detail = e0.detail || ""; code = e0.code || "";
    } catch (e) { detail = resp.statusText; }
    let advice = "";
    if (resp.status === 403) advice = "Check the API key: it is wrong, or it was revoked.";
    else if (resp.status === 402) advice = "This key has no credits (and no free calls) left for this request. Ask the operator to add credits, or choose size “preview”.";
    else if (resp.status === 429) {
      const ra = resp.headers.get("Retry-After");
      advice = "Rate limit reached for this key" + (ra ? "; try again in " + ra + " s." : ".");
    } else if (resp.status === 503) advice = "The server is busy; try again in a moment.";
    showError(resp.status + " — " + title + (code ? " (" + code + ")" : ""), detail, advice);
    $("reqid").textContent = "";
  }

  async function showResult(resp, blob, ms) {
    const h = (n) => resp.headers.get(n);
    $("stats").hidden = false;
    $("s-credits").textContent = h("X-Credits-Charged") ?? "–";
    $("s-type").textContent = h("X-Type") ?? "–";
    $("s-size").textContent = (h("X-Width") && h("X-Height")) ? h("X-Width") + " × " + h("X-Height") : "–";
    $("s-bytes").textContent = fmtBytes(blob.size);
    $("s-time").textContent = (ms / 1000).toFixed(2) + " s";
    $("reqid").textContent = h("X-Request-Id") ? "Request " + h("X-Request-Id") : "";
    const ctype = (h("Content-Type") || blob.type || "").split(";")[0];
    const ext = { "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "application/zip": "zip" }[ctype] || "bin";
    if (resultUrl) URL.revokeObjectURL(resultUrl);
    if (viewUrl && viewUrl !== resultUrl) URL.revokeObjectURL(viewUrl);
    resultUrl = URL.createObjectURL(blob);
    viewUrl = resultUrl;
    if (ext === "zip") {
      try { viewUrl = URL.createObjectURL(await zipToPng(blob)); }
      catch (e) { viewUrl = null; }
    }
    const a = $("download");
    a.href = resultUrl;
    const base = photo && photo.name ? photo.name.replace(/\.[^.]*$/, "") : "result";
    a.download = base + "-no-bg." + ext;
    a.textContent = "Download " + ext.toUpperCase();
    $("downloads").hidden = false;
    if (viewUrl) showImage($("result-view"), viewUrl, "Cut-out result");
    else $("result-view").replaceChildren(placeholder("ZIP result: download it to open."));
    const cc = h("X-Credits-Charged") ?? "?";
    showOk("Done: " + cc + (cc === "1" ? " credit" : " credits") + " charged.");
    setupCompare();
  }

  // ---------------------------------------------------------------- before / after
  function setupCompare() {
    const wrap = $("compare-wrap");
    if (!origUrl || !viewUrl) { wrap.hidden = true; return; }
    const before = $("cmp-before"), after = $("cmp-after-img");
    wrap.hidden = true;
    let loaded = 0;
    const ready = () => {
      if (++loaded < 2) return;
      // a cropped (or otherwise reshaped) result cannot be laid over the original
      const r1 = before.naturalWidth / before.naturalHeight, r2 = after.naturalWidth / after.naturalHeight;
      wrap.hidden = !(r1 > 0 && r2 > 0 && Math.abs(r1 - r2) / r1 < 0.02);
      applySplit();
    };
    before.onload = ready; after.onload = ready;
    before.src = origUrl; after.src = viewUrl;
  }
  function applySplit() {
    const v = Number($("split").value);
    $("split-out").textContent = v + "%";
    $("cmp-after").style.clipPath = "inset(0 " + (100 - v) + "% 0 0)";
    $("cmp-divider").style.left = "calc(" + v + "% - 1px)";
  }
  $("split").addEventListener("input", applySplit);

  // ---------------------------------------------------------------- ZIP (color.jpg + alpha.png) → PNG
  async function zipToPng(blob) {
    const buf = new DataView(await blob.arrayBuffer());
    const files = {};
    let eocd = -1;
    for (let i = buf.byteLength - 22; i >= Math.max(0, buf.byteLength - 65557); i--) {
      if (buf.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
    }
    if (eocd < 0) throw new Error("not a zip");
    let p = buf.getUint32(eocd + 16, true);
    const n = buf.getUint16(eocd + 10, true);
    const dec = new TextDecoder();
    for (let k = 0; k < n; k++) {
      const method = buf.getUint16(p + 10, true), csize = buf.getUint32(p + 20, true);
      const nlen = buf.getUint16(p + 28, true), elen = buf.getUint16(p + 30, true), clen = buf.getUint16(p + 32, true);
      const local = buf.getUint32(p + 42, true);
      const name = dec.decode(new Uint8Array(buf.buffer, p + 46, nlen));
      const lstart = local + 30 + buf.getUint16(local + 26, true) + buf.getUint16(local + 28, true);
      let data = new Blob([new Uint8Array(buf.buffer, lstart, csize)]);
      if (method === 8) data = await new Response(data.stream().pipeThrough(new DecompressionStream("deflate-raw"))).blob();
      files[name] = data;
      p += 46 + nlen + elen + clen;
    }
    if (!files["color.jpg"] || !files["alpha.png"]) throw new Error("no color.jpg/alpha.png");
    const [color, alpha] = await Promise.all([createImageBitmap(files["color.jpg"]), createImageBitmap(files["alpha.png"])]);
    const c = document.createElement("canvas");
    c.width = color.width; c.height = color.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(alpha, 0, 0);
    const a = ctx.getImageData(0, 0, c.width, c.height);
    ctx.drawImage(color, 0, 0);
    const rgb = ctx.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < rgb.data.length; i += 4) rgb.data[i + 3] = a.data[i];
    ctx.putImageData(rgb, 0, 0);
    return await new Promise((res) => c.toBlob(res, "image/png"));
  }

  // ---------------------------------------------------------------- helpers
  function showImage(view, src, alt) {
    const img = document.createElement("img");
    img.src = src; img.alt = alt;
    view.replaceChildren(img);
  }
  function placeholder(text) {
    const p = document.createElement("p");
    p.className = "placeholder"; p.textContent = text;
    return p;
  }
  function showError(title, detail, advice) {
    msg.className = "msg error";
    const s = document.createElement("strong"); s.textContent = title;
    const parts = [s];
    for (const t of [detail, advice]) {
      if (!t) continue;
      const d = document.createElement("span"); d.className = "line"; d.textContent = t; parts.push(d);
    }
    msg.replaceChildren(...parts);
    msg.scrollIntoView({ block: "nearest" });
  }
  function showOk(text) { msg.className = "msg ok"; msg.textContent = text; msg.scrollIntoView({ block: "nearest" }); }
  function clearResult() {
    $("stats").hidden = true; $("downloads").hidden = true; $("compare-wrap").hidden = true;
    $("result-view").replaceChildren(placeholder("The cut-out appears here"));
  }
  function clearMsg() { msg.className = "msg"; msg.replaceChildren(); }
  function fmtBytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    return (n / 1048576).toFixed(2) + " MB";
  }
})();
