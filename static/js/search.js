/* Search-as-you-type for every help-center search box: an ARIA combobox over /api/kb/search/.
   The form still works without this script (plain GET to the search page). */
(function () {
  "use strict";
  var DEBOUNCE_MS = 150;

  function setup(form) {
    var input = form.querySelector("input[type=search]");
    var list = form.querySelector(".suggestions");
    var status = form.querySelector("[data-suggest-status]");
    if (!input || !list || !window.fetch) return;
    var timer = null, controller = null, items = [], active = -1, lastQuery = "";

    function close() {
      list.hidden = true; list.innerHTML = ""; items = []; active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
      else input.removeAttribute("aria-activedescendant");
    }

    function render(results) {
      list.innerHTML = "";
      items = results.map(function (hit, i) {
        var li = document.createElement("li");
        li.id = input.id + "-option-" + i;
        li.setAttribute("role", "option");
        li.dataset.url = hit.url;
        var title = document.createElement("span");
        title.className = "s-title";
        title.textContent = hit.title;
        var snippet = document.createElement("span");
        snippet.className = "s-snippet";
        // The API escapes the snippet and only adds <mark>; strip any other markup defensively.
        snippet.innerHTML = hit.snippet.replace(/<(?!\/?mark>)[^>]*>/g, "");
        li.appendChild(title); li.appendChild(snippet);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); window.location.href = hit.url; });
        list.appendChild(li);
        return li;
      });
      if (items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        status.textContent = form.dataset.msgCount.replace("%(count)s", items.length);
      } else {
        close();
        status.textContent = form.dataset.msgNone;
      }
      active = -1;
    }

    function suggest() {
      var query = input.value.trim();
      if (query === lastQuery) return;
      lastQuery = query;
      if (query.length < 2) { close(); return; }
      if (controller) controller.abort();
      controller = new AbortController();
      var url = input.dataset.suggestUrl + "?suggest=1&limit=6&q=" + encodeURIComponent(query) +
        "&language=" + encodeURIComponent(input.dataset.language || "");
      fetch(url, { signal: controller.signal, headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) { if (input.value.trim() === query) render(data.results || []); })
        .catch(function () { /* aborted or offline: the form still submits */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(suggest, DEBOUNCE_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden || !items.length) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
      else if (event.key === "Escape") { close(); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); window.location.href = items[active].dataset.url; }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  document.querySelectorAll("[data-suggest-form]").forEach(setup);
})();
