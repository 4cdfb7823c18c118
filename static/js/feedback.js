/* "Was this helpful?" without a page reload. Without JavaScript the form posts normally. */
(function () {
  "use strict";
  var section = document.querySelector("[data-feedback]");
  if (!section || !window.fetch) return;
  var form = section.querySelector("form");
  var reasonBox = section.querySelector("[data-reason]");
  var status = section.querySelector("[data-feedback-status]");
  if (!form) return;
  reasonBox.hidden = true;  // asked for only after "No"
  var csrf = document.querySelector('meta[name="csrf-token"]');

  function send(helpful, reason) {
    var headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrf) headers["X-CSRFToken"] = csrf.content;
    return fetch(section.dataset.feedbackUrl, {
      method: "POST", headers: headers, credentials: "same-origin",
      body: JSON.stringify({ helpful: helpful, reason: reason || "" })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function show(message) {
    status.textContent = message;
    status.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button) return;  // very old browsers: let the form post
    event.preventDefault();
    var helpful = button.value === "yes";
    if (!helpful && button.hasAttribute("data-needs-reason")) {
      reasonBox.hidden = false;
      reasonBox.querySelector("textarea").focus();
      return;
    }
    var reason = helpful ? "" : reasonBox.querySelector("textarea").value;
    send(helpful, reason).then(function (result) {
      if (result.ok) {
        form.hidden = true;
        show(section.dataset.msgThanks);
      } else if (result.status === 429) {
        show(section.dataset.msgThrottled);
      } else {
        show((result.data && result.data.detail) || section.dataset.msgError);
      }
    }).catch(function () { show(section.dataset.msgError); });
  });
})();
