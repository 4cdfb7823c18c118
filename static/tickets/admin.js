/* The agent workspace's reply box: canned replies (the picker, or "/shortcut" and a space),
   the suggested opening and article links, Ctrl+Enter to send. The server fills the
   placeholders; text only ever goes into the textarea's value, never into HTML. */
(function () {
  "use strict";

  function insertAt(box, text, start, end) {
    var value = box.value;
    if (start === undefined) { start = box.selectionStart; end = box.selectionEnd; }
    box.value = value.slice(0, start) + text + value.slice(end);
    var caret = start + text.length;
    box.focus();
    box.setSelectionRange(caret, caret);
  }

  function insertBlock(box, text) {
    // Into an empty box as is; elsewhere on lines of its own, at the caret.
    if (!box.value.trim()) { box.value = ""; insertAt(box, text, 0, 0); return; }
    var start = box.selectionStart, before = box.value.slice(0, start);
    var sep = before && !/\n\s*$/.test(before) ? "\n\n" : "";
    insertAt(box, sep + text);
  }

  function start() {
    var form = document.getElementById("hc-reply-form");
    if (!form) return;
    var box = form.querySelector("textarea[name=body]");
    var picker = form.querySelector("select[name=canned_reply]");
    var status = form.querySelector("select[name=status]");
    var live = document.getElementById("hc-reply-live");
    var url = form.dataset.cannedUrl;

    function say(text) { if (live) live.textContent = text; }

    function fetchCanned(params) {
      return fetch(url + "?" + new URLSearchParams(params).toString(), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) {
        if (r.status === 404) return null;
        if (!r.ok) throw new Error(r.status);
        return r.json();
      });
    }

    function applyStatus(reply) {
      if (status && reply.set_status) status.value = reply.set_status;
    }

    function insertChosen() {
      if (!picker.value) return;
      fetchCanned({ reply: picker.value }).then(function (reply) {
        if (!reply) { say(form.dataset.msgFailed); return; }
        insertBlock(box, reply.text);
        applyStatus(reply);
        // Inserted: the picker goes back to its prompt, so sending does not add it again.
        picker.value = "";
        say(form.dataset.msgInserted);
      }).catch(function () { say(form.dataset.msgFailed); });
    }

    if (picker) {
      // A pick with the mouse inserts at once. From the keyboard the arrow keys change the value
      // on the way to the wanted reply, so there Enter or the Insert button inserts it.
      var viaPointer = false;
      var insert = document.getElementById("hc-canned-insert");
      if (insert) { insert.hidden = false; insert.addEventListener("click", insertChosen); }
      picker.addEventListener("pointerdown", function () { viaPointer = true; });
      picker.addEventListener("keydown", function (event) {
        viaPointer = false;
        if (event.key === "Enter") { event.preventDefault(); insertChosen(); }
      });
      picker.addEventListener("change", function () {
        if (viaPointer) insertChosen();
        viaPointer = false;
      });
    }

    // "/shortcut" followed by a space or a new line expands in place.
    box.addEventListener("input", function () {
      var caret = box.selectionStart;
      var before = box.value.slice(0, caret);
      var match = /(^|\s)\/([A-Za-z0-9_-]+)(\s)$/.exec(before);
      if (!match) return;
      var tokenStart = caret - match[2].length - 2;
      var token = "/" + match[2] + match[3];
      fetchCanned({ shortcut: match[2] }).then(function (reply) {
        if (!reply) { say(form.dataset.msgUnknown); return; }
        // Only if the token is still where it was: the agent may have typed on.
        if (box.value.slice(tokenStart, tokenStart + token.length) !== token) return;
        insertAt(box, reply.text, tokenStart, tokenStart + token.length);
        applyStatus(reply);
        say(form.dataset.msgInserted);
      }).catch(function () { say(form.dataset.msgFailed); });
    });

    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    // An internal note looks different while it is being written, and so does its button.
    var send = document.getElementById("hc-send");
    function showKind() {
      var checked = form.querySelector("input[name=kind]:checked");
      var internal = checked && checked.value === "internal";
      form.classList.toggle("hc-reply-form--internal", internal);
      if (send) send.textContent = internal ? send.dataset.labelInternal : send.dataset.labelPublic;
    }
    form.querySelectorAll("input[name=kind]").forEach(function (radio) {
      radio.addEventListener("change", showKind);
    });
    showKind();

    document.querySelectorAll("[data-insert-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.insertTarget);
        if (source) insertBlock(box, source.textContent.trim());
      });
    });
    document.querySelectorAll("[data-insert-link]").forEach(function (button) {
      button.addEventListener("click", function () { insertAt(box, button.dataset.insertLink); });
    });

    form.addEventListener("submit", function () {
      // After the browser has taken the click: a second click must not post twice.
      if (send) setTimeout(function () { send.disabled = true; }, 0);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
