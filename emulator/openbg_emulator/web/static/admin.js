// openbg admin console. Every state-changing call sends the session's CSRF token in X-CSRF-Token.
// All text from the server is put in the page with textContent (never HTML). Standard library only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  let csrf = "";
  let selected = null; // key id shown in the detail/ledger panels
  let keys = [];

  async function api(path, body) {
    const opts = { credentials: "same-origin", cache: "no-store", headers: {} };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(path, opts);
    let j = null;
    try { j = await r.json(); } catch (e) { j = null; }
    if (r.status === 401) { window.location.replace("/admin"); throw new Error("logged out"); }
    if (!r.ok) {
      const e0 = (j && j.errors && j.errors[0]) || {};
      throw new Error([e0.title || ("Error " + r.status), e0.detail].filter(Boolean).join(": "));
    }
    return j;
  }
  function say(text, bad) { const m = $("msg"); m.className = "msg " + (bad ? "error" : "ok"); m.textContent = text; }
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function optInt(v) { return v.trim() === "" ? null : Number(v); }
  function fmt(x) { return Number.isInteger(x) ? String(x) : x.toFixed(3).replace(/0+$/, "").replace(/\.$/, ""); }
  function fmtUptime(s) { const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60); return (d ? d + " d " : "") + (h ? h + " h " : "") + m + " min"; }

  // ---------------------------------------------------------------- server state
  async function loadState() {
    const [s, ready] = await Promise.all([api("/admin/api/state"), fetch("/readyz", { cache: "no-store" }).then((r) => r.json()).catch(() => ({}))]);
    const items = [
      ["Status", s.ready ? "ready" : (s.load_error ? "model failed: " + s.load_error : "loading the model")],
      ["Model", s.model || "(not loaded)"],
      ["Runtime", s.runtime || "–"],
      ["Precision", s.precision || "–"],
      ["Providers", (s.providers || []).map((p) => String(p).replace("ExecutionProvider", "")).join(", ") || "–"],
      ["Workers", s.workers],
      ["Queue", s.in_flight + " in flight / " + (s.workers + s.queue) + " max"],
      ["Uptime", fmtUptime(s.uptime_s)],
      ["Keys", s.keys],
      ["Test controls", s.test_controls ? "ON" : "off"],
    ];
    for (const [k, v] of Object.entries(ready)) {
      if (!["status", "runtime", "precision", "providers"].includes(k) && typeof v !== "object") items.push(["readyz " + k, v]);
    }
    const dl = $("state");
    dl.replaceChildren(...items.map(([k, v]) => { const d = el("div"); d.append(el("dt", k), el("dd", v)); return d; }));
  }

  // ---------------------------------------------------------------- keys
  async function loadKeys() {
    const j = await api("/admin/api/keys");
    keys = j.keys;
    const tb = $("keys");
    tb.replaceChildren(...keys.map((k) => {
      const tr = el("tr");
      if (k.revoked) tr.classList.add("revoked");
      if (k.id === selected) tr.classList.add("selected");
      tr.dataset.id = k.id;
      tr.append(el("td", k.id, "mono"), el("td", k.name), el("td", k.key_hint + "…", "mono"), el("td", fmt(k.credits), "num"),
        el("td", k.free_calls_left + " / " + k.free_calls, "num"), el("td", k.rate_limit, "num"), el("td", k.created_at.replace("T", " ").replace("+00:00", "")),
        el("td", k.revoked ? "revoked" : "active"));
      const act = el("td");
      const show = el("button", "Details", "secondary");
      show.type = "button"; show.setAttribute("aria-label", "Details and ledger of " + k.id);
      show.addEventListener("click", () => select(k.id));
      act.append(show);
      if (!k.revoked) {
        const rv = el("button", "Revoke", "danger");
        rv.type = "button"; rv.setAttribute("aria-label", "Revoke " + k.id);
        rv.addEventListener("click", () => revoke(k.id, rv));
        act.append(" ", rv);
      }
      tr.append(act);
      return tr;
    }));
  }

  async function revoke(id, btn) {
    if (btn.dataset.armed !== "1") {
      btn.dataset.armed = "1"; btn.textContent = "Confirm revoke";
      setTimeout(() => { btn.dataset.armed = ""; btn.textContent = "Revoke"; }, 5000);
      return;
    }
    try {
      await api("/admin/api/keys/" + encodeURIComponent(id) + "/revoke", {});
      say("Revoked " + id + ".");
      await loadKeys();
      if (selected === id) await select(id);
    } catch (e) { say(e.message, true); }
  }

  async function select(id) {
    selected = id;
    const k = keys.find((x) => x.id === id);
    $("detail").hidden = false; $("ledger").hidden = false;
    $("detail-h").textContent = "Key " + id + (k ? " — " + k.name : "");
    $("ledger-h").textContent = "Ledger of " + id;
    if (k) { $("d-rate").value = k.rate_limit; $("d-free").value = k.free_calls; }
    for (const tr of $("keys").children) tr.classList.toggle("selected", tr.dataset.id === id);
    const j = await api("/admin/api/keys/" + encodeURIComponent(id) + "/ledger?days=30");
    drawChart(j.daily);
    $("ledger-rows").replaceChildren(...j.recent.map((r) => {
      const tr = el("tr");
      tr.append(el("td", String(r.at).replace("T", " ").replace("+00:00", "")), el("td", r.kind), el("td", fmt(r.delta_milli / 1000), "num"),
        el("td", fmt(r.balance_milli / 1000), "num"), el("td", r.request_id || "", "mono"));
      return tr;
    }));
  }

  // ---------------------------------------------------------------- chart (inline SVG)
  function drawChart(daily) {
    const W = 720, H = 220, L = 40, R = 48, T = 12, B = 28;
    const n = daily.length, bw = (W - L - R) / n;
    const maxReq = Math.max(1, ...daily.map((d) => d.requests));
    const maxCred = Math.max(0.001, ...daily.map((d) => d.charged));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H); svg.setAttribute("class", "chart"); svg.setAttribute("role", "img");
    const total = daily.reduce((a, d) => a + d.requests, 0), spent = daily.reduce((a, d) => a + d.charged, 0);
    svg.setAttribute("aria-label", "Last " + n + " days: " + total + " requests, " + fmt(spent) + " credits charged");
    const add = (tag, attrs, text) => { const e = document.createElementNS(SVG, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
    add("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#8a94a1" });
    add("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, String(maxReq));
    add("text", { x: L - 4, y: H - B, "text-anchor": "end" }, "0");
    add("text", { x: W - R + 4, y: T + 8 }, fmt(maxCred));
    add("text", { x: W - R + 4, y: H - B }, "0");
    const pts = [];
    daily.forEach((d, i) => {
      const x = L + i * bw, h = (H - T - B) * d.requests / maxReq;
      const bar = add("rect", { x: x + 1, y: H - B - h, width: Math.max(1, bw - 2), height: h, fill: "#7aa6d6" });
      const t = document.createElementNS(SVG, "title"); t.textContent = d.day + ": " + d.requests + " requests, " + fmt(d.charged) + " credits"; bar.append(t);
      pts.push((x + bw / 2).toFixed(1) + "," + (H - B - (H - T - B) * d.charged / maxCred).toFixed(1));
      if ((i % 7 === 0 && n - 1 - i >= 4) || i === n - 1) add("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle" }, d.day.slice(5));
    });
    add("polyline", { points: pts.join(" "), fill: "none", stroke: "#c0392b", "stroke-width": 2 });
    $("chart").replaceChildren(svg);
  }

  // ---------------------------------------------------------------- forms
  $("create").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const j = await api("/admin/api/keys", { name: $("c-name").value, credits: Number($("c-credits").value || 0),
        free_calls: optInt($("c-free").value), rate_limit: optInt($("c-rate").value) });
      $("newkey-value").textContent = j.key;
      $("newkey").hidden = false;
      say("Created " + j.info.id + ".");
      $("create").reset();
      await loadKeys();
      await select(j.info.id);
    } catch (err) { say(err.message, true); }
  });
  $("credit").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!selected) return;
    try {
      const j = await api("/admin/api/keys/" + encodeURIComponent(selected) + "/credit", { amount: Number($("d-amount").value) });
      say(j.info.id + ": balance " + fmt(j.info.credits) + " credits.");
      $("d-amount").value = "";
      await loadKeys(); await select(selected);
    } catch (err) { say(err.message, true); }
  });
  $("limits").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!selected) return;
    try {
      const j = await api("/admin/api/keys/" + encodeURIComponent(selected) + "/limits", { rate_limit: optInt($("d-rate").value), free_calls: optInt($("d-free").value) });
      say(j.info.id + ": rate limit " + j.info.rate_limit + ", " + j.info.free_calls + " free calls a month.");
      await loadKeys(); await select(selected);
    } catch (err) { say(err.message, true); }
  });
  $("logout").addEventListener("click", async () => {
    try { await api("/admin/logout", {}); } catch (e) { /* go to the login page anyway */ }
    window.location.replace("/admin");
  });

  (async function start() {
    try {
      csrf = (await api("/admin/api/session")).csrf;
      await Promise.all([loadState(), loadKeys()]);
      setInterval(() => loadState().catch(() => {}), 10000);
    } catch (e) { say(e.message, true); }
  })();
})();
