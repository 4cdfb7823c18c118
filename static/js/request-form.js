/* Request form: as the customer types a subject, suggest knowledge-base articles (through
   /api/kb/search/, like search.js). Each link goes through the suggestion-open URL, which records
   the view for deflection reporting. On pages with form errors, move focus to the summary. Forms
   marked data-submit-once (the request and reply forms) are not posted twice by a double click.
   Without this script the form posts normally and the server shows suggestions with errors. */
(function () {
  "use strict";
  var DEBOUNCE_MS = 250;
  var LIMIT = 5;

  var summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();

  // A second click while the first post is on its way would post the form again. The server
  // makes it once anyway (the form's one-time nonce); this spares the request. Disabled after
  // the submission has started; enabled again after a while (a stalled post may be sent again:
  // it still counts once) and when the page comes back from history.
  var RESUBMIT_AFTER_MS = 15000;
  var onceForms = document.querySelectorAll("form[data-submit-once]");
  function setSubmitting(form, busy) {
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (button) {
      button.disabled = busy;
    });
  }
  Array.prototype.forEach.call(onceForms, function (once) {
    once.addEventListener("submit", function () {
      setTimeout(function () { setSubmitting(once, true); }, 0);
      setTimeout(function () { setSubmitting(once, false); }, RESUBMIT_AFTER_MS);
    });
  });
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(onceForms, function (once) { setSubmitting(once, false); });
  });

  var form = document.querySelector("[data-request-form]");
  if (!form || !window.fetch) return;
  var input = form.querySelector("input[name=subject]");
  var section = form.querySelector("[data-suggestions]");
  var list = form.querySelector("[data-suggestion-list]");
  var status = form.querySelector("[data-suggestion-status]");
  var template = form.querySelector("template[data-suggestion-template]");
  if (!input || !section || !list || !template) return;
  var timer = null, controller = null, lastQuery = input.value.trim();

  function text(html) {
    // The API escapes snippets; reading textContent from an inert document never runs markup.
    return new DOMParser().parseFromString(html || "", "text/html").body.textContent || "";
  }

  function openUrl(slug, query) {
    return form.dataset.openUrl.replace("/SLUG/", "/" + encodeURIComponent(slug) + "/") +
      "?q=" + encodeURIComponent(query);
  }

  function render(results, query) {
    list.textContent = "";
    results.forEach(function (hit) {
      var item = template.content.firstElementChild.cloneNode(true);
      var link = item.querySelector("a");
      link.href = openUrl(hit.slug, query);
      item.querySelector("[data-title]").textContent = hit.title;
      item.querySelector("[data-summary]").textContent = text(hit.snippet);
      list.appendChild(item);
    });
    section.hidden = results.length === 0;
    if (results.length === 1) status.textContent = form.dataset.msgOne;
    else if (results.length > 1) status.textContent = form.dataset.msgCount.replace("%(count)s", results.length);
    else status.textContent = "";
  }

  function suggest() {
    var query = input.value.trim();
    if (query === lastQuery) return;
    lastQuery = query;
    if (controller) controller.abort();
    if (query.length < 2) { render([], query); return; }
    controller = new AbortController();
    var url = form.dataset.suggestUrl + "?suggest=1&limit=" + LIMIT + "&q=" + encodeURIComponent(query) +
      "&language=" + encodeURIComponent(form.dataset.language || "");
    fetch(url, { signal: controller.signal, headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { if (input.value.trim() === query) render(data.results || [], query); })
      .catch(function () { /* aborted or offline: the form still works */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(suggest, DEBOUNCE_MS);
  });
})();
