/* The live-chat agent console (admin page "Live chat console"), driven by the agent socket
   /ws/agent/ (docs/chat-protocol.md). Waiting chats and mine on the left, the open conversation
   in the middle, the customer on the right.

   - Everything the server or a customer wrote goes into the page with textContent (links are
     built as elements, and only http(s) or same-site paths become href values).
   - Messages are kept in an outbox until the server acknowledges them and are resent with the
     same client_id after a reconnect (the server stores them once).
   - The socket reconnects with backoff; then it says hello again and re-opens the current
     conversation from the last message id seen. */
(function () {
  "use strict";

  var MAX_TEXT = 2000;
  var TYPING_EVERY_MS = 3000;   // the agent's typing frames, at most this often
  var TYPING_SHOWN_MS = 4000;   // how long "... is typing" stays after the customer's frame

  function start() {
    var root = document.getElementById("hc-console");
    var configNode = document.getElementById("hc-console-config");
    if (!root || !configNode) return;
    var config = JSON.parse(configNode.textContent);
    var S = config.strings || {};

    function q(selector) { return root.querySelector(selector); }
    var ui = {
      status: q("[data-status]"), capacity: q("[data-capacity]"), connection: q("[data-connection]"),
      alert: q("[data-alert]"), announce: q("[data-announce]"),
      waiting: q("[data-waiting]"), waitingCount: q("[data-waiting-count]"),
      mine: q("[data-mine]"), mineCount: q("[data-mine-count]"), capacityNote: q("[data-capacity-note]"),
      empty: q("[data-chat-empty]"), chat: q("[data-chat]"), title: q("[data-chat-title]"),
      phase: q("[data-chat-phase]"), ticketLink: q("[data-chat-ticket]"),
      accept: q("[data-accept]"), transferTo: q("[data-transfer-to]"), transferGo: q("[data-transfer-go]"),
      end: q("[data-end]"), endConfirm: q("[data-end-confirm]"), endYes: q("[data-end-yes]"), endNo: q("[data-end-no]"),
      transcript: q("[data-transcript]"), typing: q("[data-typing]"),
      composer: q("[data-composer]"), composerNote: q("[data-composer-note]"), internal: q("[data-internal]"),
      canned: q("[data-canned]"), cannedInsert: q("[data-canned-insert]"), text: q("[data-text]"),
      send: q("[data-send]"), composerLive: q("[data-composer-live]"),
      kbQuery: q("[data-kb-q]"), kbResults: q("[data-kb-results]"),
      side: q("[data-side]"), profile: q("[data-profile]"), detected: q("[data-detected]"), previous: q("[data-previous]"),
      unverified: q("[data-unverified]")
    };

    // --- helpers ---------------------------------------------------------------------------

    function fmt(text, values) {
      return String(text || "").replace(/%\((\w+)\)s/g, function (all, key) {
        return values && values[key] !== undefined ? String(values[key]) : all;
      });
    }

    function el(tag, className, text) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined && text !== null) node.textContent = String(text);
      return node;
    }

    function safeHref(url) {
      // Same-site paths and http(s) URLs only: never javascript: or data:.
      if (typeof url !== "string" || !url) return null;
      if (url.charAt(0) === "/" && url.charAt(1) !== "/") return url;
      try {
        var parsed = new URL(url, location.href);
        return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
      } catch (e) { return null; }
    }

    function appendLinkified(parent, text) {
      // Text with its http(s) URLs as links; every part goes in as text.
      var pattern = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g, last = 0, match;
      while ((match = pattern.exec(text)) !== null) {
        if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
        var href = safeHref(match[0]);
        if (href) {
          var a = el("a", "", match[0]);
          a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer";
          parent.appendChild(a);
        } else {
          parent.appendChild(document.createTextNode(match[0]));
        }
        last = match.index + match[0].length;
      }
      if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
    }

    function duration(seconds) {
      seconds = Math.max(0, Math.floor(seconds));
      var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
      var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
      return (h ? h + ":" : "") + mm + ":" + ss;
    }

    function clientId() {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
    }

    function showAlert(text) {
      ui.alert.textContent = text || "";
      ui.alert.hidden = !text;
    }

    function announce(text) {
      // Re-set so that the same words are read again.
      ui.announce.textContent = "";
      setTimeout(function () { ui.announce.textContent = text; }, 30);
    }

    function say(text) { ui.composerLive.textContent = text || ""; }

    // --- state -----------------------------------------------------------------------------

    var state = {
      socket: null, open: false, signedOut: false, attempt: 0, retryTimer: null, countdown: null,
      snapshot: null, snapshotAt: 0, seenWaiting: null,
      current: null,        // the open conversation's id
      detail: null,         // its last `conversation` frame (customer, phase, ...)
      lastId: null,         // the last message id seen in it
      rendered: {},         // message id -> element, in the open conversation
      pendingEls: {},       // client_id -> element, not yet in a `message` frame
      outbox: {},           // client_id -> {conversation, text, internal}, until acknowledged
      sent: {},             // client_id -> conversation, of this page's acknowledged messages
      membership: "",       // whether the open chat is in my list or the waiting one
      forcedInternal: false,
      unread: {},           // conversation id -> count
      refreshTimer: null, typingTimer: null, resendTimer: null, lastTypingSent: 0
    };

    function send(frame) {
      if (!state.socket || !state.open) return false;
      state.socket.send(JSON.stringify(frame));
      return true;
    }

    // --- the socket ------------------------------------------------------------------------

    function socketUrl() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      return scheme + location.host + (config.socketPath || "/ws/agent/");
    }

    function setConnection(kind, text) {
      root.dataset.consoleState = kind;
      ui.connection.textContent = text;
      ui.connection.className = "hc-console-connection hc-console-connection--" + kind;
      updateControls();
    }

    function connect() {
      clearTimeout(state.retryTimer);
      clearInterval(state.countdown);
      setConnection("connecting", S.connecting);
      var socket;
      try { socket = new WebSocket(socketUrl()); } catch (e) { scheduleReconnect(); return; }
      state.socket = socket;
      socket.addEventListener("open", function () {
        if (state.socket !== socket) return;
        state.open = true;
        state.attempt = 0;
        setConnection("connected", S.connected);
        send({ type: "hello" });
        if (state.current !== null) send({ type: "open", conversation: state.current, after: state.lastId });
        Object.keys(state.outbox).forEach(function (id) { transmit(id); });
      });
      socket.addEventListener("message", function (event) {
        if (state.socket !== socket) return;
        var frame;
        try { frame = JSON.parse(event.data); } catch (e) { return; }
        if (frame && typeof frame.type === "string") handle(frame);
      });
      socket.addEventListener("close", function (event) {
        if (state.socket !== socket) return;
        state.open = false;
        state.socket = null;
        if (event.code === 4403) { signedOut(); return; }
        scheduleReconnect();
      });
    }

    function scheduleReconnect() {
      if (state.signedOut) return;
      state.attempt += 1;
      // 1, 2, 4, 8, 16, 30 s (at most), with jitter so that many consoles do not come back at once.
      var base = Math.min(30, Math.pow(2, state.attempt - 1));
      var delay = Math.max(1, Math.round(base * (0.75 + Math.random() * 0.5)));
      var left = delay;
      setConnection("offline", fmt(S.reconnecting, { seconds: left }));
      clearInterval(state.countdown);
      state.countdown = setInterval(function () {
        left -= 1;
        if (left > 0) ui.connection.textContent = fmt(S.reconnecting, { seconds: left });
      }, 1000);
      state.retryTimer = setTimeout(connect, delay * 1000);
    }

    function signedOut() {
      state.signedOut = true;
      clearTimeout(state.retryTimer);
      clearInterval(state.countdown);
      setConnection("offline", S.signedOut);
      ui.alert.textContent = "";
      ui.alert.appendChild(document.createTextNode(S.signedOut + " "));
      var link = el("a", "", S.signIn);
      link.href = safeHref(config.loginUrl) || "/admin/login/";
      ui.alert.appendChild(link);
      ui.alert.hidden = false;
    }

    window.addEventListener("online", function () {
      if (!state.open && !state.signedOut) { state.attempt = 0; connect(); }
    });

    // --- frames ----------------------------------------------------------------------------

    function handle(frame) {
      switch (frame.type) {
        case "console": return onConsole(frame);
        case "conversation": return onConversation(frame);
        case "message": return onMessage(frame);
        case "ack": return onAck(frame);
        case "typing": return onTyping(frame);
        case "agent_joined": return onChanged(frame);
        case "transferred":
          if (frame.conversation === state.current) showAlert(S.transferred);
          return onChanged(frame, true);
        case "ended":
          if (frame.conversation === state.current) showAlert(S.ended);
          return onChanged(frame, true);
        case "accepted": return onAccepted(frame);
        case "status": return setStatus(frame.value);
        case "error": return onError(frame);
      }
    }

    function onConsole(frame) {
      var previous = state.seenWaiting;
      state.snapshot = {
        status: frame.status,
        capacity: typeof frame.chat_capacity === "number" ? frame.chat_capacity : 0,
        waiting: Array.isArray(frame.waiting) ? frame.waiting : [],
        mine: Array.isArray(frame.mine) ? frame.mine : []
      };
      state.snapshotAt = Date.now();
      setStatus(frame.status);
      var ids = {};
      state.snapshot.waiting.forEach(function (chat) {
        ids[chat.conversation] = true;
        if (previous && !previous[chat.conversation]) announce(fmt(S.newWaiting, { name: chat.customer }));
      });
      state.seenWaiting = ids;
      renderLists();
      updateControls();
      // The open chat may have been accepted, taken or transferred meanwhile: read it again.
      var membership = state.current === null ? "" : (isMine(state.current) ? "mine" : "") + (isWaiting(state.current) ? "waiting" : "");
      if (state.current !== null && state.detail && membership !== state.membership) scheduleRefresh();
      state.membership = membership;
    }

    function onConversation(frame) {
      if (frame.conversation !== state.current) return;
      var first = !state.detail || state.detail.conversation !== frame.conversation;
      state.detail = frame;
      if (first) {
        ui.transcript.textContent = "";
        state.rendered = {};
        state.pendingEls = {};
        // A whole transcript at once is not read out message by message.
        ui.transcript.setAttribute("aria-busy", "true");
      }
      renderHeader();
      renderSide();
      (frame.messages || []).forEach(addMessage);
      ui.transcript.removeAttribute("aria-busy");
      // Unsent messages of this chat stay visible as "sending".
      Object.keys(state.outbox).forEach(function (id) {
        var item = state.outbox[id];
        if (item.conversation === state.current && !state.pendingEls[id]) renderPending(id, item);
      });
      updateControls();
      if (first) { sortCanned(); scrollDown(); }
    }

    function conversationOf(frame) {
      if (typeof frame.conversation === "number") return frame.conversation;
      if (frame.client_id && state.outbox[frame.client_id]) return state.outbox[frame.client_id].conversation;
      if (frame.client_id && state.sent[frame.client_id] !== undefined) return state.sent[frame.client_id];
      return null;
    }

    function onMessage(frame) {
      var conversation = conversationOf(frame);
      if (conversation === null) {
        // A frame that does not say its chat: read the open one again from the last id seen.
        scheduleRefresh();
        return;
      }
      if (conversation === state.current) {
        addMessage(frame);
      } else if (frame.author === "customer") {
        state.unread[conversation] = (state.unread[conversation] || 0) + 1;
        renderLists();
        announce(fmt(S.newMessage, { name: frame.name || S.customer }));
      }
      updateTitle();
    }

    function onAck(frame) {
      var item = state.outbox[frame.client_id];
      if (item) state.sent[frame.client_id] = item.conversation;
      delete state.outbox[frame.client_id];
      var pending = state.pendingEls[frame.client_id];
      if (pending && typeof frame.id === "number") {
        if (state.rendered[frame.id]) {
          pending.remove();
        } else {
          // Acknowledged before its broadcast: shown as sent until the stored copy arrives.
          pending.classList.remove("hc-message--pending");
          pending.dataset.id = String(frame.id);
          pending.dataset.provisional = "true";
          var note = pending.querySelector("[data-sending]");
          if (note) note.remove();
          state.rendered[frame.id] = pending;
        }
        delete state.pendingEls[frame.client_id];
      }
    }

    function onTyping(frame) {
      if (frame.author !== "customer" || frame.conversation !== state.current) return;
      var name = state.detail && state.detail.customer ? state.detail.customer.name : S.customer;
      ui.typing.textContent = fmt(S.typing, { name: name });
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(function () { ui.typing.textContent = ""; }, TYPING_SHOWN_MS);
    }

    function onChanged(frame, listsToo) {
      if (frame.conversation === state.current) scheduleRefresh();
      if (listsToo) send({ type: "hello" }); // the console frame does not follow every change
    }

    function onAccepted(frame) {
      var chat = findChat(frame.conversation);
      showAlert("");
      announce(fmt(S.accepted, { name: chat ? chat.customer : "" }));
      openConversation(frame.conversation, true);
    }

    function onError(frame) {
      var text;
      if (frame.code === "taken") {
        text = S.taken;
        send({ type: "hello" });
        if (state.current !== null) scheduleRefresh();
      } else if (frame.code === "at_capacity") {
        text = S.atCapacity;
        send({ type: "hello" });
      } else if (frame.code === "signed_out") {
        signedOut();
        return;
      } else if (frame.code === "rate_limited") {
        // The frame was dropped: unacknowledged messages go again a little later (stored once).
        text = fmt(S.error, { message: frame.message });
        clearTimeout(state.resendTimer);
        state.resendTimer = setTimeout(function () { Object.keys(state.outbox).forEach(transmit); }, 10000);
      } else if (frame.code === "unavailable") {
        // The server's database is busy: nothing of that frame was saved. Unacknowledged
        // messages stay in the outbox and go again after the advised wait; the lists and the
        // open chat are read again then.
        text = S.unavailable;
        var wait = Math.min(Math.max(Number(frame.retry_after) || 10, 1), 60) * 1000;
        clearTimeout(state.resendTimer);
        state.resendTimer = setTimeout(function () {
          send({ type: "hello" });
          if (state.current !== null) scheduleRefresh();
          Object.keys(state.outbox).forEach(transmit);
        }, wait * (1 + Math.random() / 2));
      } else {
        text = fmt(S.error, { message: frame.message || frame.code });
      }
      showAlert(text);
    }

    // --- lists -----------------------------------------------------------------------------

    function findChat(id) {
      if (!state.snapshot) return null;
      var all = state.snapshot.mine.concat(state.snapshot.waiting);
      for (var i = 0; i < all.length; i++) if (all[i].conversation === id) return all[i];
      return null;
    }

    function isMine(id) {
      return !!(state.snapshot && state.snapshot.mine.some(function (c) { return c.conversation === id; }));
    }

    function isWaiting(id) {
      return !!(state.snapshot && state.snapshot.waiting.some(function (c) { return c.conversation === id; }));
    }

    function atCapacity() {
      var snap = state.snapshot;
      return !!snap && snap.mine.length >= snap.capacity;
    }

    function currentPhase() {
      if (isMine(state.current)) return "agent";
      if (isWaiting(state.current)) return "queued";
      return state.detail ? state.detail.phase : null;
    }

    function card(chat, kind) {
      var li = el("li", "hc-chat-card hc-chat-card--" + kind + (chat.vip ? " hc-chat-card--vip" : ""));
      li.dataset.conversation = String(chat.conversation);
      if (chat.conversation === state.current) li.setAttribute("aria-current", "true");
      var head = el("div", "hc-chat-card-head");
      head.appendChild(el("strong", "hc-chat-card-name", chat.customer));
      if (chat.vip) {
        var vip = el("span", "hc-tier hc-tier--vip", S.vip);
        vip.title = chat.tier || S.vip;
        head.appendChild(vip);
      }
      if (kind === "waiting") {
        var wait = el("span", "hc-chat-card-wait");
        wait.dataset.waitBase = String(chat.waiting_seconds || 0);
        wait.textContent = fmt(S.waited, { time: duration(chat.waiting_seconds || 0) });
        head.appendChild(wait);
      } else if (state.unread[chat.conversation]) {
        head.appendChild(el("span", "hc-chat-card-unread", fmt(S.unread, { count: state.unread[chat.conversation] })));
      }
      li.appendChild(head);
      li.appendChild(el("div", "hc-chat-card-subject", chat.subject));
      var meta = el("div", "hc-chat-card-meta hc-muted",
        (chat.team ? fmt(S.team, { team: chat.team }) : S.noTeam) + " · " + chat.reference + " · " + chat.language);
      li.appendChild(meta);
      var actions = el("div", "hc-chat-card-actions");
      var view = el("button", "button", S.open);
      view.type = "button";
      view.dataset.focusKey = "open:" + chat.conversation;
      view.dataset.openChat = String(chat.conversation);
      view.setAttribute("aria-label", S.open + ": " + chat.customer + " (" + chat.reference + ")");
      actions.appendChild(view);
      if (kind === "waiting") {
        var accept = el("button", "button default", S.accept);
        accept.type = "button";
        accept.dataset.focusKey = "accept:" + chat.conversation;
        accept.dataset.acceptChat = String(chat.conversation);
        accept.setAttribute("aria-label", S.accept + ": " + chat.customer + " (" + chat.reference + ")");
        accept.disabled = atCapacity() || !state.open;
        if (atCapacity()) accept.title = S.atCapacity;
        actions.appendChild(accept);
      }
      li.appendChild(actions);
      return li;
    }

    function renderList(list, chats, kind, emptyText) {
      var focused = document.activeElement && list.contains(document.activeElement)
        ? document.activeElement.dataset.focusKey : null;
      list.textContent = "";
      if (!chats.length) list.appendChild(el("li", "hc-muted hc-chat-card-empty", emptyText));
      chats.forEach(function (chat) { list.appendChild(card(chat, kind)); });
      if (focused) {
        var again = list.querySelector('[data-focus-key="' + focused + '"]');
        if (again && !again.disabled) again.focus();
        else if (list.querySelector("button:not([disabled])")) list.querySelector("button:not([disabled])").focus();
      }
    }

    function renderLists() {
      var snap = state.snapshot;
      if (!snap) return;
      renderList(ui.waiting, snap.waiting, "waiting", S.noWaiting);
      renderList(ui.mine, snap.mine, "mine", S.noMine);
      ui.waitingCount.textContent = String(snap.waiting.length);
      ui.mineCount.textContent = String(snap.mine.length);
      ui.capacity.textContent = fmt(S.capacity, { count: snap.mine.length, capacity: snap.capacity });
      ui.capacity.classList.toggle("hc-console-capacity--full", atCapacity());
      ui.capacityNote.textContent = S.atCapacity;
      ui.capacityNote.hidden = !atCapacity() || !snap.waiting.length;
      updateTitle();
    }

    function tick() {
      var elapsed = (Date.now() - state.snapshotAt) / 1000;
      root.querySelectorAll("[data-wait-base]").forEach(function (node) {
        node.textContent = fmt(S.waited, { time: duration(Number(node.dataset.waitBase) + elapsed) });
      });
    }
    setInterval(tick, 1000);

    var baseTitle = document.title;
    function updateTitle() {
      var snap = state.snapshot, count = snap ? snap.waiting.length : 0;
      Object.keys(state.unread).forEach(function (id) { count += state.unread[id]; });
      document.title = (count ? "(" + count + ") " : "") + baseTitle;
    }

    function listClick(event) {
      var button = event.target.closest("button");
      if (!button || !root.contains(button)) return;
      if (button.dataset.acceptChat) {
        var id = Number(button.dataset.acceptChat);
        showAlert("");
        if (atCapacity()) { showAlert(S.atCapacity); return; }
        send({ type: "accept", conversation: id });
      } else if (button.dataset.openChat) {
        openConversation(Number(button.dataset.openChat), true);
      }
    }
    ui.waiting.addEventListener("click", listClick);
    ui.mine.addEventListener("click", listClick);

    // --- status ----------------------------------------------------------------------------

    function setStatus(value) {
      if (!value) return;
      var known = Array.prototype.some.call(ui.status.options, function (o) { return o.value === value; });
      if (!known) {
        var option = el("option", "", (config.statusLabels || {})[value] || value);
        option.value = value;
        ui.status.appendChild(option);
      }
      ui.status.value = value;
    }
    ui.status.addEventListener("change", function () {
      send({ type: "status", value: ui.status.value });
    });

    // --- the open conversation -------------------------------------------------------------

    function openConversation(id, focusTitle) {
      if (state.current !== id) {
        state.current = id;
        state.detail = null;
        state.lastId = null;
        state.rendered = {};
        state.pendingEls = {};
        ui.transcript.textContent = "";
        ui.typing.textContent = "";
        ui.endConfirm.hidden = true;
        ui.end.hidden = false;
        ui.kbResults.textContent = "";
      }
      delete state.unread[id];
      state.membership = (isMine(id) ? "mine" : "") + (isWaiting(id) ? "waiting" : "");
      var chat = findChat(id);
      ui.empty.hidden = true;
      ui.chat.hidden = false;
      ui.title.textContent = chat ? chat.customer + " · " + chat.reference : "…";
      renderLists();
      send({ type: "open", conversation: id, after: state.lastId });
      if (focusTitle) ui.title.focus();
    }

    function scheduleRefresh() {
      if (state.current === null) return;
      clearTimeout(state.refreshTimer);
      state.refreshTimer = setTimeout(function () {
        send({ type: "open", conversation: state.current, after: state.lastId });
      }, 250);
    }

    var PHASES = { bot: "phaseBot", queued: "phaseQueued", agent: "phaseAgent", ended: "phaseEnded" };

    function renderHeader() {
      var d = state.detail;
      if (!d) return;
      var customer = d.customer || {};
      ui.title.textContent = (customer.name || S.customer) + " · " + d.reference;
      if (customer.vip) {
        var vip = el("span", "hc-tier hc-tier--vip", S.vip);
        ui.title.appendChild(document.createTextNode(" "));
        ui.title.appendChild(vip);
      }
      ui.phase.textContent = S[PHASES[d.phase]] || d.phase || "";
      ui.phase.className = "hc-status hc-console-phase--" + (d.phase || "none");
      var href = safeHref(d.admin_url);
      if (href) { ui.ticketLink.href = href; ui.ticketLink.hidden = false; } else { ui.ticketLink.hidden = true; }
    }

    function renderSide() {
      var d = state.detail;
      if (!d) return;
      var customer = d.customer || {};
      ui.side.hidden = false;
      // A registered customer's address given without signing in: the warning stays in view.
      if (ui.unverified) ui.unverified.hidden = !customer.unverified;
      ui.profile.textContent = "";
      [["name", customer.name], ["email", customer.email], ["tier", customer.tier],
       ["segment", customer.segment], ["language", customer.language],
       ["organization", customer.organization], ["notes", customer.notes]].forEach(function (row) {
        if (!row[1]) return;
        ui.profile.appendChild(el("dt", "", S[row[0]]));
        var dd = el("dd", "", row[1]);
        if (row[0] === "tier" && customer.vip) {
          dd.textContent = "";
          dd.appendChild(el("span", "hc-tier hc-tier--vip", row[1]));
        }
        ui.profile.appendChild(dd);
      });
      ui.detected.textContent = "";
      (d.detected || []).forEach(function (term) {
        var li = el("li");
        li.appendChild(el("span", "hc-term hc-console-term", term));
        ui.detected.appendChild(li);
      });
      if (!(d.detected || []).length) ui.detected.appendChild(el("li", "hc-muted", S.noDetected));
      ui.previous.textContent = "";
      (d.previous || []).forEach(function (t) {
        var li = el("li");
        var a = el("a", "", t.reference);
        a.href = config.ticketListUrl + "?q=" + encodeURIComponent(t.reference);
        li.appendChild(a);
        li.appendChild(document.createTextNode(" " + (t.subject || "") + " "));
        li.appendChild(el("span", "hc-status hc-status--" + String(t.status).replace(/[^a-z_]/g, ""), t.status));
        ui.previous.appendChild(li);
      });
      if (!(d.previous || []).length) ui.previous.appendChild(el("li", "hc-muted", S.noPrevious));
    }

    function authorLabel(frame) {
      // Customer, internal note or public reply; the bot and system messages need no label.
      if (frame.internal) return { text: S.internal, kind: "internal" };
      if (frame.author === "customer") return { text: S.customer, kind: "customer" };
      if (frame.author === "agent") return { text: S.publicReply, kind: "public" };
      return null;
    }

    function messageElement(frame, pending) {
      var author = ["customer", "bot", "agent", "system"].indexOf(frame.author) >= 0 ? frame.author : "system";
      var li = el("li", "hc-message hc-message--" + author + (frame.internal ? " hc-message--internal" : "") +
        (pending ? " hc-message--pending" : ""));
      var head = el("div", "hc-message-head");
      head.appendChild(el("strong", "", frame.name || S[author] || author));
      var label = authorLabel(frame);
      if (label) head.appendChild(el("span", "hc-label hc-label--" + label.kind, label.text));
      if (frame.created) {
        var time = el("time", "", new Date(frame.created).toLocaleTimeString());
        time.dateTime = frame.created;
        head.appendChild(time);
      }
      if (pending) {
        var sending = el("span", "hc-muted", S.sending);
        sending.dataset.sending = "";
        head.appendChild(sending);
      }
      li.appendChild(head);
      var body = el("div", "hc-message-body");
      appendLinkified(body, String(frame.text || ""));
      li.appendChild(body);
      var articles = Array.isArray(frame.articles) ? frame.articles : [];
      if (articles.length) {
        var list = el("ul", "hc-console-articles");
        articles.forEach(function (article) {
          var item = el("li");
          var href = safeHref(article.url);
          var a = el(href ? "a" : "span", "", article.title || article.slug);
          if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener"; }
          item.appendChild(a);
          list.appendChild(item);
        });
        li.appendChild(list);
      }
      var options = Array.isArray(frame.options) ? frame.options : [];
      if (options.length) {
        var opts = el("ul", "hc-console-options hc-muted");
        options.forEach(function (option) { opts.appendChild(el("li", "", option.label || option.slug || option.type)); });
        li.appendChild(opts);
      }
      return li;
    }

    function nearBottom() {
      var t = ui.transcript;
      return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
    }
    function scrollDown() { ui.transcript.scrollTop = ui.transcript.scrollHeight; }

    function addMessage(frame) {
      if (typeof frame.id !== "number") return;
      if (state.lastId === null || frame.id > state.lastId) state.lastId = frame.id;
      if (frame.author === "customer") { clearTimeout(state.typingTimer); ui.typing.textContent = ""; }
      var shown = state.rendered[frame.id];
      if (shown && !shown.dataset.provisional) return;
      var stick = nearBottom();
      var node = messageElement(frame, false);
      node.dataset.id = String(frame.id);
      var pending = shown || (frame.client_id ? state.pendingEls[frame.client_id] : null);
      if (pending) {
        ui.transcript.replaceChild(node, pending);
        delete state.pendingEls[frame.client_id];
      } else {
        // Stored messages go before the ones still being sent.
        ui.transcript.insertBefore(node, ui.transcript.querySelector(".hc-message--pending"));
      }
      state.rendered[frame.id] = node;
      if (stick || pending) scrollDown();
    }

    function renderPending(id, item) {
      var node = messageElement({
        author: "agent", name: config.me.name, text: item.text, internal: item.internal
      }, true);
      ui.transcript.appendChild(node);
      state.pendingEls[id] = node;
      scrollDown();
    }

    // --- controls --------------------------------------------------------------------------

    function updateControls() {
      var online = state.open;
      ui.status.disabled = !online;
      var id = state.current;
      var phase = id === null ? null : currentPhase();
      var mine = id !== null && isMine(id);
      var live = phase === "queued" || phase === "agent";
      ui.accept.hidden = !(phase === "queued" && !mine);
      ui.accept.disabled = !online || atCapacity();
      ui.accept.title = atCapacity() ? S.atCapacity : "";
      ui.transferTo.disabled = ui.transferGo.disabled = !online || !live;
      ui.end.disabled = ui.endYes.disabled = !online || !live;
      // The message box: replies in my chats; otherwise internal notes only, or nothing.
      var note = "";
      if (phase === "ended") note = S.chatEnded;
      else if (!mine && phase === "queued") note = S.acceptToReply;
      else if (!mine && phase === "bot") note = S.withBot;
      else if (!mine && phase) note = S.notYours;
      ui.composerNote.textContent = note;
      ui.composerNote.hidden = !note;
      var canWrite = id !== null && phase !== "ended";
      ui.text.disabled = ui.send.disabled = ui.canned.disabled = ui.cannedInsert.disabled = !canWrite;
      if (canWrite && !mine) {
        ui.internal.checked = true; ui.internal.disabled = true; state.forcedInternal = true;
      } else {
        if (state.forcedInternal) ui.internal.checked = false; // my chat now: replies by default
        state.forcedInternal = false;
        ui.internal.disabled = !canWrite;
      }
      showKind();
      root.querySelectorAll("[data-accept-chat]").forEach(function (button) {
        button.disabled = !online || atCapacity();
      });
    }

    function showKind() {
      var internal = ui.internal.checked;
      ui.composer.classList.toggle("hc-reply-form--internal", internal);
      ui.send.textContent = internal ? ui.send.dataset.labelInternal : ui.send.dataset.labelPublic;
    }
    ui.internal.addEventListener("change", showKind);

    ui.accept.addEventListener("click", function () {
      if (state.current === null) return;
      showAlert("");
      if (atCapacity()) { showAlert(S.atCapacity); return; }
      send({ type: "accept", conversation: state.current });
    });

    ui.transferGo.addEventListener("click", function () {
      var value = ui.transferTo.value;
      if (!value || state.current === null) { ui.transferTo.focus(); return; }
      var split = value.indexOf(":"), kind = value.slice(0, split), target = value.slice(split + 1);
      var frame = { type: "transfer", conversation: state.current };
      if (kind === "agent") frame.agent = Number(target); else frame.team = target;
      showAlert("");
      send(frame);
      ui.transferTo.value = "";
    });

    ui.end.addEventListener("click", function () {
      ui.end.hidden = true;
      ui.endConfirm.hidden = false;
      ui.endYes.focus();
    });
    function closeEndConfirm() {
      ui.endConfirm.hidden = true;
      ui.end.hidden = false;
    }
    ui.endNo.addEventListener("click", function () { closeEndConfirm(); ui.end.focus(); });
    ui.endConfirm.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { closeEndConfirm(); ui.end.focus(); }
    });
    ui.endYes.addEventListener("click", function () {
      if (state.current !== null) send({ type: "end", conversation: state.current });
      closeEndConfirm();
    });

    // --- writing ---------------------------------------------------------------------------

    function transmit(id) {
      var item = state.outbox[id];
      if (!item) return;
      send({ type: "message", conversation: item.conversation, text: item.text, client_id: id, internal: item.internal });
    }

    function submit() {
      var text = ui.text.value.trim();
      if (!text || state.current === null || ui.text.disabled) return;
      if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT);
      var id = clientId();
      var item = { conversation: state.current, text: text, internal: ui.internal.checked };
      state.outbox[id] = item;
      renderPending(id, item);
      transmit(id);
      ui.text.value = "";
      say("");
      ui.text.focus();
    }

    ui.composer.addEventListener("submit", function (event) { event.preventDefault(); submit(); });

    ui.text.addEventListener("keydown", function (event) {
      // Enter sends; Shift+Enter is a new line; never while an input method is composing.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });

    ui.text.addEventListener("input", function () {
      var now = Date.now();
      if (state.current !== null && !ui.internal.checked && isMine(state.current) &&
          now - state.lastTypingSent > TYPING_EVERY_MS && ui.text.value.trim()) {
        state.lastTypingSent = now;
        send({ type: "typing", conversation: state.current });
      }
      expandShortcut();
    });

    function insertAt(text, start, end) {
      var box = ui.text, value = box.value;
      if (start === undefined) { start = box.selectionStart; end = box.selectionEnd; }
      box.value = value.slice(0, start) + text + value.slice(end);
      var caret = start + text.length;
      box.focus();
      box.setSelectionRange(caret, caret);
    }

    function insertBlock(text) {
      var box = ui.text;
      if (!box.value.trim()) { box.value = ""; insertAt(text, 0, 0); return; }
      var before = box.value.slice(0, box.selectionStart);
      insertAt((before && !/\s$/.test(before) ? " " : "") + text);
    }

    // Canned replies: the conversation's language first. The server fills the placeholders.
    function chatLanguage() {
      // The conversation's language (from the lists), else the customer's, else the agent's.
      var chat = state.current === null ? null : findChat(state.current);
      if (chat && chat.language) return chat.language;
      if (state.detail && state.detail.customer && state.detail.customer.language) return state.detail.customer.language;
      return config.language;
    }

    function sortCanned() {
      var language = chatLanguage();
      var chosen = ui.canned.value;
      var first = ui.canned.options[0];
      var options = Array.prototype.slice.call(ui.canned.options, 1);
      options.sort(function (a, b) {
        var la = a.dataset.language === language ? 0 : 1, lb = b.dataset.language === language ? 0 : 1;
        return la - lb || a.textContent.localeCompare(b.textContent);
      });
      ui.canned.textContent = "";
      ui.canned.appendChild(first);
      options.forEach(function (o) { ui.canned.appendChild(o); });
      ui.canned.value = chosen;
    }

    function fetchCanned(params) {
      params.ticket = state.current;
      return fetch(config.cannedUrl + "?" + new URLSearchParams(params).toString(), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) {
        if (r.status === 404) return null;
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      });
    }

    function insertCanned() {
      if (!ui.canned.value || state.current === null) return;
      fetchCanned({ reply: ui.canned.value }).then(function (reply) {
        if (!reply) { say(S.cannedFailed); return; }
        insertBlock(reply.text);
        ui.canned.value = "";
        say(S.cannedInserted);
      }).catch(function () { say(S.cannedFailed); });
    }
    ui.cannedInsert.addEventListener("click", insertCanned);
    ui.canned.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); insertCanned(); }
    });

    function expandShortcut() {
      var box = ui.text, caret = box.selectionStart;
      var match = /(^|\s)\/([A-Za-z0-9_-]+)(\s)$/.exec(box.value.slice(0, caret));
      if (!match || state.current === null) return;
      var tokenStart = caret - match[2].length - 2, token = "/" + match[2] + match[3];
      fetchCanned({ shortcut: match[2] }).then(function (reply) {
        if (!reply) { say(S.cannedUnknown); return; }
        if (box.value.slice(tokenStart, tokenStart + token.length) !== token) return;
        insertAt(reply.text, tokenStart, tokenStart + token.length);
        say(S.cannedInserted);
      }).catch(function () { say(S.cannedFailed); });
    }

    // Knowledge-base links: search as you type, insert "Title: URL" at the caret.
    var kbTimer = null, kbSeq = 0;
    function absolute(url) {
      if (typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/") return (config.siteUrl || location.origin) + url;
      return safeHref(url);
    }
    function searchKb() {
      var text = ui.kbQuery.value.trim();
      var seq = ++kbSeq;
      if (!text) { ui.kbResults.textContent = ""; return; }
      var params = { q: text, suggest: "1", limit: "5" };
      var language = chatLanguage();
      if (language === "en" || language === "zh-hans") params.language = language;
      fetch(config.searchUrl + "?" + new URLSearchParams(params).toString(), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (r) {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      }).then(function (data) {
        if (seq !== kbSeq) return;
        ui.kbResults.textContent = "";
        var hits = data && Array.isArray(data.results) ? data.results : [];
        if (!hits.length) { ui.kbResults.appendChild(el("li", "hc-muted", S.noArticles)); return; }
        hits.forEach(function (hit) {
          var url = absolute(hit.url);
          if (!url) return;
          var li = el("li", "hc-console-kb-hit");
          var a = el("a", "", hit.title);
          a.href = url; a.target = "_blank"; a.rel = "noopener";
          li.appendChild(a);
          var button = el("button", "button", S.insertLink);
          button.type = "button";
          button.setAttribute("aria-label", S.insertLink + ": " + hit.title);
          button.addEventListener("click", function () {
            if (ui.text.disabled) return;
            insertBlock(hit.title + ": " + url);
            say(S.linkInserted);
          });
          li.appendChild(document.createTextNode(" "));
          li.appendChild(button);
          ui.kbResults.appendChild(li);
        });
      }).catch(function () {
        if (seq !== kbSeq) return;
        ui.kbResults.textContent = "";
        ui.kbResults.appendChild(el("li", "hc-muted", S.searchFailed));
      });
    }
    ui.kbQuery.addEventListener("input", function () {
      clearTimeout(kbTimer);
      kbTimer = setTimeout(searchKb, 250);
    });
    ui.kbQuery.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); clearTimeout(kbTimer); searchKb(); }
    });

    updateControls();
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
