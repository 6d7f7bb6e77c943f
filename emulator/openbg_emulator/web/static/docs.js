// /docs: Swagger UI (served from this server, installed from npm at set-up) on this server's openapi.yaml.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  const msg = document.getElementById("msg");
  if (typeof window.SwaggerUIBundle !== "function") {
    msg.className = "msg error";
    msg.textContent = "Swagger UI is not installed on this server (run `make web-assets`). The raw specification is at /openapi.yaml.";
    return;
  }
  window.SwaggerUIBundle({
    url: "/docs/openapi.json",
    dom_id: "#swagger",
    validatorUrl: null,          // no request to another host
    deepLinking: false,
    tryItOutEnabled: false,
    persistAuthorization: false, // the key stays in the page
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
  });
});
