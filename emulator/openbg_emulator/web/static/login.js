// /admin login: POST /admin/login (JSON, same origin); the session is an HttpOnly SameSite=Strict cookie.
"use strict";
document.getElementById("login").addEventListener("submit", async function (e) {
  e.preventDefault();
  const msg = document.getElementById("msg"), go = document.getElementById("go");
  const token = document.getElementById("token").value.trim();
  msg.className = "msg"; msg.textContent = "";
  go.disabled = true;
  try {
    const r = await fetch("/admin/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token: token }), credentials: "same-origin", cache: "no-store" });
    if (r.ok) { window.location.replace("/admin"); return; }
    let t = "Login failed (" + r.status + ")";
    try { const j = await r.json(); const e0 = (j.errors || [])[0] || {}; t = [e0.title, e0.detail].filter(Boolean).join(": ") || t; } catch (x) { /* keep t */ }
    msg.className = "msg error"; msg.textContent = t;
  } catch (err) {
    msg.className = "msg error"; msg.textContent = "The server could not be reached.";
  } finally { go.disabled = false; }
});
