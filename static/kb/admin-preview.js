/* Live preview of an article's Markdown in the admin change form: the server renders and
   sanitizes exactly as it will for the public page. */
(function () {
  "use strict";
  function start() {
    var body = document.getElementById("id_body");
    var pane = document.getElementById("kb-preview");
    if (!pane) return;
    if (!body) return;  // read-only view: the pane shows the stored rendering
    var form = body.form;
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    var timer = null, controller = null;
    function refresh() {
      if (controller) controller.abort();
      controller = new AbortController();
      var data = new FormData();
      data.append("body", body.value);
      fetch(pane.dataset.previewUrl, {
        method: "POST", body: data, signal: controller.signal, credentials: "same-origin",
        headers: { "X-CSRFToken": token ? token.value : "" }
      }).then(function (r) { return r.json(); })
        .then(function (d) { if (d.html !== undefined) pane.innerHTML = d.html; else pane.textContent = d.detail || ""; })
        .catch(function () {});
    }
    body.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 300); });
    refresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
