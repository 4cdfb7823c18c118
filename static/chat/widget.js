/* HelpCenter customer chat widget (protocol: docs/chat-protocol.md; embedding: docs/chat-widget.md).
   One <script> tag, no build step, no dependencies. It connects only when opened, keeps the
   conversation token, the transcript and unsent messages in localStorage (per help-center
   origin), resumes with `hello {conversation, after}` and reconnects with backoff. Server text
   is always rendered with textContent, never as HTML. */
(function () {
  "use strict";
  if (window.HelpCenterChat) return;
  var script = document.currentScript || document.querySelector("script[src*='chat/widget']");
  if (!script || !window.WebSocket || !window.JSON || !window.Promise || !window.URL) return;
  var config = script.dataset || {};

  var ORIGIN = urlOrNull(config.helpcenter || script.src, location.href);
  if (!ORIGIN) return;
  ORIGIN = ORIGIN.origin;
  var SOCKET_URL = (function () {
    var url = new URL(config.socket || "/ws/chat/", ORIGIN);
    if (url.protocol === "https:") url.protocol = "wss:";
    else if (url.protocol === "http:") url.protocol = "ws:";
    return url.href;
  })();
  var SAME_SITE = location.origin === ORIGIN;
  var VISITOR_URL = config.visitor || "/chat/visitor/";
  var CSS_URL = config.css || script.src.replace(/widget(\.[0-9a-f]{8,})?\.js(\?.*)?$/, "widget.css");

  var MAX_TEXT = 2000, MAX_STORED = 200, TYPING_EVERY = 3000, TYPING_SHOWN = 6000;
  var RETRY_MIN = 1000, RETRY_MAX = 30000, FLOOD_WAIT = 30000, RESEND_AFTER = 10000;
  // The server allows 20 frames per 10 s, counted as it processes them: stay under it and keep
  // few messages unacknowledged, so a long outbox drains without errors.
  var FRAME_BUDGET = 15, FRAME_WINDOW = 10000, MAX_IN_FLIGHT = 3;
  var STORE_KEY = "hc-chat:" + ORIGIN, OPEN_KEY = "hc-chat-open:" + ORIGIN;

  // --- Strings: English and Simplified Chinese, chosen by data-language or the browser --------
  var STRINGS = {
    en: {
      launcher: "Chat with us", title: "Chat with us", close: "Close chat",
      subtitle_new: "Our virtual assistant answers at once",
      subtitle_bot: "Virtual assistant · a person is one click away",
      subtitle_queued: "Waiting for a person", subtitle_agent: "Chatting with {name}",
      subtitle_ended: "This chat has ended",
      greeting: "Hi! I'm the virtual assistant. Ask me anything, or ask for a person at any time.",
      log: "Conversation", input: "Your message", placeholder: "Type your question…", send: "Send",
      handoff: "Talk to a person", handoff_text: "I'd like to talk to a person.",
      end: "End chat", you: "You", assistant: "Assistant", system: "Help Center",
      agent: "Support agent", sending: "Sending…", read: "Read the article",
      new_tab: "(opens in a new tab)",
      queue: "You are number {position} in the queue · about {minutes} min",
      queue_soon: "You are number {position} in the queue · less than a minute",
      agent_joined: "{name} has joined the chat", typing: "{name} is typing…",
      ended: "This chat has ended. Thank you for contacting us.", ended_event: "Chat ended",
      survey: "Rate this chat",
      new_chat: "Start a new chat", connecting: "Connecting…",
      reconnecting: "Connection lost. Reconnecting…",
      offline: "You are offline. Your messages will be sent when the connection is back.",
      rate_limited: "You are sending messages very quickly. Please wait a moment.",
      unavailable: "We are busy right now. Your messages are kept and will be sent in a moment.",
      flood: "Too many messages in a short time. We will reconnect in a moment.",
      too_long: "Messages are limited to 2,000 characters.",
      error: "Sorry, something went wrong. Please try again.",
      unread: "{count} new"
    },
    "zh-hans": {
      launcher: "在线咨询", title: "在线咨询", close: "关闭聊天窗口",
      subtitle_new: "智能助手为您即时解答",
      subtitle_bot: "智能助手 · 随时可转人工客服",
      subtitle_queued: "正在为您转接人工客服", subtitle_agent: "客服 {name} 正在为您服务",
      subtitle_ended: "本次会话已结束",
      greeting: "您好！我是智能助手，有什么可以帮您？如需人工服务，随时告诉我。",
      log: "对话记录", input: "输入消息", placeholder: "请输入您的问题…", send: "发送",
      handoff: "转人工客服", handoff_text: "我想转人工客服。",
      end: "结束会话", you: "我", assistant: "智能助手", system: "帮助中心",
      agent: "客服", sending: "发送中…", read: "查看文章",
      new_tab: "（在新标签页中打开）",
      queue: "您当前排在第 {position} 位，预计等待约 {minutes} 分钟",
      queue_soon: "您当前排在第 {position} 位，预计等待不到 1 分钟",
      agent_joined: "客服 {name} 已接入对话", typing: "{name} 正在输入…",
      ended: "本次会话已结束，感谢您的咨询。", ended_event: "会话已结束",
      survey: "评价本次服务",
      new_chat: "开始新的会话", connecting: "正在连接…",
      reconnecting: "连接已断开，正在重新连接…",
      offline: "网络已断开，恢复连接后将自动发送您的消息。",
      rate_limited: "您发送消息太频繁了，请稍候再试。",
      unavailable: "系统暂时繁忙，您的消息已保留，稍后将自动发送。",
      flood: "短时间内消息过多，稍后将自动重新连接。",
      too_long: "每条消息最多 2000 个字。",
      error: "抱歉，出了点问题，请稍后重试。",
      unread: "{count} 条新消息"
    }
  };
  var LANG = /^zh/i.test(config.language || navigator.language || "") ? "zh-hans" : "en";
  var T = STRINGS[LANG];

  function t(key, params) {
    return T[key].replace(/\{(\w+)\}/g, function (all, name) {
      return params && params[name] != null ? String(params[name]) : all;
    });
  }

  function urlOrNull(value, base) {
    try { return new URL(value, base); } catch (e) { return null; }
  }

  // --- Storage: localStorage when allowed (it may be blocked), else memory -------------------
  function safeStorage(get) {
    try {
      var s = get();
      s.setItem("hc-chat-probe", "1"); s.removeItem("hc-chat-probe");
      return s;
    } catch (e) {
      var memory = {};
      return {
        getItem: function (k) { return memory.hasOwnProperty(k) ? memory[k] : null; },
        setItem: function (k, v) { memory[k] = String(v); },
        removeItem: function (k) { delete memory[k]; }
      };
    }
  }
  var local = safeStorage(function () { return window.localStorage; });
  var session = safeStorage(function () { return window.sessionStorage; });

  function freshState() {
    // items: message frames (by id) and notices ({notice: "agent_joined" | "ended", ...}) in order.
    return { conversation: null, lastId: 0, status: "new", agent: null, ended: false,
             survey: null, queue: null, items: [], outbox: [] };
  }
  function loadState() {
    var state = freshState();
    try {
      var saved = JSON.parse(local.getItem(STORE_KEY) || "null");
      if (saved && typeof saved === "object") {
        for (var key in state) if (saved.hasOwnProperty(key)) state[key] = saved[key];
      }
    } catch (e) { /* unreadable: start fresh */ }
    if (!Array.isArray(state.items)) state.items = [];
    if (!Array.isArray(state.outbox)) state.outbox = [];
    return state;
  }
  var state = loadState();
  var acked = {};  // client_ids the server acknowledged to this tab
  function save() {
    if (state.items.length > MAX_STORED) state.items = state.items.slice(-MAX_STORED);
    try { local.setItem(STORE_KEY, JSON.stringify(withOtherTabsUnsent())); } catch (e) { /* full: keep going */ }
  }
  // Every tab of the site writes the same entry. Keep the unsent messages another tab stored
  // for this conversation and this tab has not seen acknowledged: if that tab closes before
  // sending them, the next page load sends them (the server stores each client_id once).
  function withOtherTabsUnsent() {
    var stored;
    try { stored = JSON.parse(local.getItem(STORE_KEY) || "null"); } catch (e) { return state; }
    if (!stored || !Array.isArray(stored.outbox) || !stored.outbox.length) return state;
    if (stored.conversation && stored.conversation !== state.conversation) return state;
    var known = {};
    state.outbox.forEach(function (item) { known[item.client_id] = true; });
    state.items.forEach(function (item) { if (item.client_id) known[item.client_id] = true; });
    var theirs = stored.outbox.filter(function (item) {
      return item && typeof item.client_id === "string" && typeof item.text === "string" &&
             !known[item.client_id] && !acked[item.client_id];
    });
    if (!theirs.length) return state;
    var copy = {};
    for (var key in state) copy[key] = state[key];
    copy.outbox = state.outbox.concat(theirs);
    return copy;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // --- DOM helpers ----------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var name in attrs) {
      var value = attrs[name];
      if (value == null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : value);
    }
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }
  function show(node, visible) { node.hidden = !visible; }

  // Plain text with http(s) links made clickable, built from text nodes (no HTML parsing).
  function linkified(text) {
    var fragment = document.createDocumentFragment();
    var pattern = /https?:\/\/[A-Za-z0-9\-._~:\/?#\[\]@!$&'()*+,;=%]+/g, at = 0, match;
    while ((match = pattern.exec(text))) {
      var url = match[0].replace(/[.,;:!?'")\]]+$/, "");
      fragment.appendChild(document.createTextNode(text.slice(at, match.index)));
      fragment.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", text: url }));
      at = match.index + url.length;
      pattern.lastIndex = at;
    }
    fragment.appendChild(document.createTextNode(text.slice(at)));
    return fragment;
  }

  function safeLink(url) {
    var parsed = urlOrNull(url, ORIGIN);
    return parsed && /^https?:$/.test(parsed.protocol) ? parsed.href : null;
  }
  function linkTarget(href) {
    return urlOrNull(href, location.href).origin === location.origin ? null : "_blank";
  }

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    var path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", "22"); svg.setAttribute("height", "22");
    svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3.5 5.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm4.5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm4.5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z");
    svg.appendChild(path);
    return svg;
  }

  // --- The widget's markup --------------------------------------------------------------------
  var root = el("div", { className: "hc-chat", id: "hc-chat", lang: LANG === "zh-hans" ? "zh-Hans" : "en", "data-chat-root": true });
  root.hidden = true;  // until the stylesheet has loaded
  var launcherLabel = el("span", { className: "hc-chat-launcher-label", text: t("launcher") });
  var badge = el("span", { className: "hc-chat-badge", "data-chat-unread": true, hidden: true });
  var launcher = el("button", {
    type: "button", className: "hc-chat-launcher", id: "hc-chat-launcher", "data-chat-launcher": true,
    "aria-expanded": "false", "aria-controls": "hc-chat-panel"
  }, [chatIcon(), launcherLabel, badge]);

  var subtitle = el("p", { className: "hc-chat-subtitle", id: "hc-chat-subtitle", "data-chat-subtitle": true });
  var closeButton = el("button", { type: "button", className: "hc-chat-close", "data-chat-close": true, "aria-label": t("close"), title: t("close") });
  closeButton.textContent = "×";
  var connection = el("p", { className: "hc-chat-connection", id: "hc-chat-connection", role: "status", "data-chat-connection": true });
  var list = el("ol", { className: "hc-chat-messages", "data-chat-messages": true });
  var log = el("div", { className: "hc-chat-log", role: "log", "aria-live": "polite", "aria-label": t("log"), tabindex: "0", "data-chat-log": true }, [list]);
  var typing = el("p", { className: "hc-chat-typing", "data-chat-typing": true, "aria-live": "polite" });
  var queueNotice = el("p", { className: "hc-chat-queue", role: "status", id: "hc-chat-queue", "data-chat-queue": true });
  var notice = el("p", { className: "hc-chat-notice", role: "alert", "data-chat-notice": true });
  var handoffButton = el("button", { type: "button", className: "hc-chat-action", id: "hc-chat-handoff", "data-chat-handoff": true, text: t("handoff") });
  var endButton = el("button", { type: "button", className: "hc-chat-action hc-chat-action--quiet", id: "hc-chat-end", "data-chat-end": true, text: t("end") });
  var surveyLink = el("a", { className: "hc-chat-survey", "data-chat-survey": true, text: t("survey") });
  var newChatButton = el("button", { type: "button", className: "hc-chat-action", id: "hc-chat-new", "data-chat-new": true, text: t("new_chat") });
  var endedText = el("p", { className: "hc-chat-ended", "data-chat-ended": true, text: t("ended") });
  var actions = el("div", { className: "hc-chat-actions" }, [endedText, newChatButton, handoffButton, surveyLink, endButton]);
  var input = el("textarea", {
    id: "hc-chat-input", className: "hc-chat-input", rows: "1", maxlength: String(MAX_TEXT),
    placeholder: t("placeholder"), autocomplete: "off", "data-chat-input": true
  });
  var sendButton = el("button", { type: "submit", className: "hc-chat-send", id: "hc-chat-send", "data-chat-send": true, text: t("send") });
  var form = el("form", { className: "hc-chat-form", "data-chat-form": true }, [
    el("label", { for: "hc-chat-input", className: "hc-chat-sr", text: t("input") }), input, sendButton
  ]);
  var panel = el("section", {
    className: "hc-chat-panel", id: "hc-chat-panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": "hc-chat-title", "aria-describedby": "hc-chat-subtitle", "data-chat-panel": true
  }, [
    el("header", { className: "hc-chat-header" }, [
      el("div", { className: "hc-chat-heading" }, [el("h2", { id: "hc-chat-title", text: t("title") }), subtitle]),
      closeButton
    ]),
    connection, log, typing, queueNotice, notice, actions, form
  ]);
  panel.hidden = true;
  root.appendChild(panel);
  root.appendChild(launcher);

  // --- Rendering --------------------------------------------------------------------------------
  var seenIds = {};      // message ids already shown
  var pendingNodes = {}; // client_id -> the bubble shown while sending

  function timeOf(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date)) return "";
    return date.toLocaleTimeString(LANG === "zh-hans" ? "zh-CN" : "en", { hour: "numeric", minute: "2-digit" });
  }

  function authorName(frame) {
    if (frame.author === "customer") return t("you");
    if (frame.author === "bot") return t("assistant");
    if (frame.author === "system") return t("system");
    return frame.name || t("agent");
  }

  function messageNode(frame, pending) {
    var author = ["customer", "bot", "agent", "system"].indexOf(frame.author) >= 0 ? frame.author : "system";
    var item = el("li", {
      className: "hc-chat-msg hc-chat-msg--" + author, "data-chat-message": true, "data-author": author,
      "data-id": frame.id != null ? String(frame.id) : null, "data-client-id": frame.client_id || null,
      "data-state": pending ? "sending" : "sent"
    });
    var name = el("span", { className: "hc-chat-name", text: authorName(frame) });
    if (author === "customer") name.className += " hc-chat-sr";
    item.appendChild(name);
    var bubble = el("div", { className: "hc-chat-bubble" });
    bubble.appendChild(linkified(String(frame.text || "")));
    item.appendChild(bubble);
    var cards = (frame.articles || []).map(function (card) {
      var href = card && safeLink(card.url);
      if (!href) return null;
      var target = linkTarget(href);
      return el("li", null, [el("a", {
        className: "hc-chat-article", href: href, target: target, rel: target ? "noopener" : null,
        "data-chat-article": true, "data-slug": card.slug || null
      }, [
        el("span", { className: "hc-chat-article-title", text: card.title || href }),
        el("span", { className: "hc-chat-article-cta", text: t("read") }),
        target ? el("span", { className: "hc-chat-sr", text: t("new_tab") }) : null
      ])]);
    }).filter(Boolean);
    if (cards.length) item.appendChild(el("ul", { className: "hc-chat-cards" }, cards));
    var options = (frame.options || []).map(function (option) {
      if (!option || !option.label || (option.type !== "article" && option.type !== "handoff")) return null;
      return el("button", {
        type: "button", className: "hc-chat-option", "data-chat-option": option.type,
        "data-slug": option.type === "article" ? option.slug : null, text: option.label
      });
    }).filter(Boolean);
    if (options.length) item.appendChild(el("div", { className: "hc-chat-options" }, options));
    item.appendChild(el("span", { className: "hc-chat-meta", "aria-hidden": "true", text: pending ? t("sending") : timeOf(frame.created) }));
    return item;
  }

  function noticeNode(item) {
    var text = item.notice === "agent_joined" ? t("agent_joined", { name: item.name || t("agent") }) : t("ended_event");
    return el("li", { className: "hc-chat-event", "data-chat-event": item.notice, text: text });
  }

  function greetingNode() {
    return el("li", { className: "hc-chat-msg hc-chat-msg--bot", "data-author": "bot", "data-chat-greeting": true }, [
      el("span", { className: "hc-chat-name", text: t("assistant") }),
      el("div", { className: "hc-chat-bubble", text: t("greeting") })
    ]);
  }

  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function scrollToEnd() { log.scrollTop = log.scrollHeight; }
  function append(node, force) {
    var stick = force || nearBottom();
    list.appendChild(node);
    if (stick) scrollToEnd();
  }

  function renderAll() {
    list.textContent = "";
    seenIds = {}; pendingNodes = {};
    list.appendChild(greetingNode());  // what the customer saw first; not a stored message
    state.items.forEach(function (item) {
      if (item.notice) { list.appendChild(noticeNode(item)); return; }
      seenIds[item.id] = true;
      list.appendChild(messageNode(item, false));
    });
    state.outbox.forEach(function (item) {
      var node = messageNode({ author: "customer", text: item.text, client_id: item.client_id }, true);
      pendingNodes[item.client_id] = node;
      list.appendChild(node);
    });
    updateChrome();
    scrollToEnd();
  }

  function markSent(node, frame) {
    node.setAttribute("data-state", "sent");
    node.setAttribute("data-id", String(frame.id));
    node.querySelector(".hc-chat-meta").textContent = timeOf(frame.created);
  }

  // Buttons, subtitle and notices follow the conversation's status.
  function updateChrome() {
    var status = state.ended ? "ended" : state.status;
    root.setAttribute("data-chat-status", status);
    subtitle.textContent = status === "agent" ? t("subtitle_agent", { name: state.agent || t("agent") })
      : t("subtitle_" + (T["subtitle_" + status] ? status : "new"));
    show(handoffButton, status === "new" || status === "bot" || status === "ended");
    show(endButton, !!state.conversation && (status === "bot" || status === "queued" || status === "agent"));
    show(endedText, status === "ended");
    show(newChatButton, status === "ended");
    var survey = state.survey && safeLink(state.survey);
    if (survey) {
      surveyLink.href = survey;
      var target = linkTarget(survey);
      if (target) { surveyLink.target = target; surveyLink.rel = "noopener"; }
    }
    show(surveyLink, !!survey);
    var queue = status === "queued" && state.queue;
    if (queue) {
      var minutes = Math.ceil((queue.eta_seconds || 0) / 60);
      queueNotice.textContent = minutes >= 1 ? t("queue", { position: queue.position, minutes: minutes })
        : t("queue_soon", { position: queue.position });
    }
    show(queueNotice, !!queue);
    var optionsLive = status === "bot" && isReady();
    Array.prototype.forEach.call(list.querySelectorAll("[data-chat-option]"), function (button) {
      button.disabled = !optionsLive || button.getAttribute("data-used") === "true";
    });
  }

  var noticeTimer = null;
  function say(text, sticky) {
    notice.textContent = text;
    show(notice, !!text);
    clearTimeout(noticeTimer);
    if (text && !sticky) noticeTimer = setTimeout(function () { say(""); }, 8000);
  }
  say("");

  var connectionTimer = null;
  function setConnection(kind) {
    clearTimeout(connectionTimer);
    var text = kind ? t(kind) : "";
    root.setAttribute("data-chat-link", kind || "open");
    if (kind === "connecting") {
      // Only say it if it takes a while: a quick connection should not flash a message.
      connectionTimer = setTimeout(function () { connection.textContent = text; show(connection, true); }, 800);
      return;
    }
    connection.textContent = text;
    show(connection, !!text);
  }
  setConnection("");
  show(typing, false);

  // --- Frames from the server -------------------------------------------------------------------
  var socket = null, ready = false, awaitingWelcome = false, attempt = 0, retryTimer = null;
  var sentOnSocket = {}, resendTimer = null, unavailableTimer = null, typingTimer = null;
  var lastTypingSent = 0, unread = 0;
  var recentFrames = [], flushTimer = null;

  function isReady() { return ready && socket && socket.readyState === 1; }

  function budget() {
    var now = Date.now();
    while (recentFrames.length && now - recentFrames[0] >= FRAME_WINDOW) recentFrames.shift();
    return FRAME_BUDGET - recentFrames.length;
  }

  function raw(frame) {
    if (!socket || socket.readyState !== 1) return false;
    recentFrames.push(Date.now());
    socket.send(JSON.stringify(frame));
    return true;
  }

  function remember(item) { state.items.push(item); save(); }

  function onWelcome(frame) {
    awaitingWelcome = false;
    ready = true;
    attempt = 0;
    setConnection("");
    if (frame.conversation && frame.conversation !== state.conversation) {
      state.conversation = frame.conversation;  // the first message started a conversation
    }
    if (frame.status === "ended") {
      // Ended while we were away; unsent messages will start the next conversation.
      if (!state.ended && !state.outbox.length && state.status !== "new") endConversation(null);
    } else if (frame.status) {
      state.ended = false;
      state.status = frame.status;
      if (frame.status !== "queued") state.queue = null;
    }
    save();
    updateChrome();
    flush();
  }

  function onMessage(frame) {
    if (typeof frame.id !== "number" || seenIds[frame.id]) return;
    seenIds[frame.id] = true;
    if (frame.id > (state.lastId || 0)) state.lastId = frame.id;
    var stored = {
      id: frame.id, author: frame.author, name: frame.name || "", text: frame.text || "",
      created: frame.created, articles: frame.articles || [], options: frame.options || [],
      client_id: frame.client_id || undefined
    };
    var pending = frame.client_id && pendingNodes[frame.client_id];
    if (pending) {
      dropFromOutbox(frame.client_id);
      markSent(pending, stored);
      // Keep the stored transcript in display order: before the messages still being sent.
      state.items.push(stored);
      save();
      return;
    }
    if (frame.client_id && state.items.some(function (i) { return i.client_id === frame.client_id; })) return;
    if (frame.author === "agent") {
      state.agent = frame.name || state.agent;
      hideTyping();
    }
    remember(stored);
    append(messageNode(stored, false), frame.author === "customer");
    if (frame.author !== "customer" && panel.hidden) { unread++; updateBadge(); }
    updateChrome();
  }

  function onAck(frame) {
    var node = frame.client_id && pendingNodes[frame.client_id];
    if (frame.client_id) acked[frame.client_id] = true;
    var item = dropFromOutbox(frame.client_id);
    if (typeof frame.id !== "number") return;
    if (node && !seenIds[frame.id]) {
      // The ack came before our own message's broadcast: record it now, skip the broadcast.
      seenIds[frame.id] = true;
      var stored = { id: frame.id, author: "customer", name: "", text: item ? item.text : "",
                     created: new Date().toISOString(), articles: [], options: [], client_id: frame.client_id };
      markSent(node, stored);
      remember(stored);
    }
  }

  function dropFromOutbox(clientId) {
    var found = null;
    state.outbox = state.outbox.filter(function (item) {
      if (item.client_id === clientId) { found = item; return false; }
      return true;
    });
    if (found) { delete pendingNodes[clientId]; save(); flush(); }
    return found;
  }

  function endConversation(surveyUrl) {
    state.ended = true;
    state.status = "ended";
    state.queue = null;
    state.survey = surveyUrl || null;
    hideTyping();
    var item = { notice: "ended" };
    remember(item);
    append(noticeNode(item));
  }

  function hideTyping() { clearTimeout(typingTimer); show(typing, false); }

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome": onWelcome(frame); break;
      case "message": onMessage(frame); break;
      case "ack": onAck(frame); break;
      case "queue":
        state.queue = { position: frame.position, eta_seconds: frame.eta_seconds };
        if (!state.ended) state.status = "queued";
        save(); updateChrome();
        break;
      case "agent_joined":
        state.agent = frame.name || null;
        state.status = "agent";
        state.queue = null;
        var item = { notice: "agent_joined", name: frame.name || "" };
        remember(item);
        append(noticeNode(item));
        updateChrome();
        break;
      case "typing":
        if (frame.author !== "agent") break;
        if (typing.hidden) { typing.textContent = t("typing", { name: state.agent || t("agent") }); show(typing, true); }
        clearTimeout(typingTimer);
        typingTimer = setTimeout(hideTyping, TYPING_SHOWN);
        break;
      case "ended":
        if (!state.ended) endConversation(frame.survey_url);
        save(); updateChrome();
        break;
      case "error": onError(frame); break;
    }
  }

  function onError(frame) {
    if (awaitingWelcome && frame.code === "invalid" && state.conversation) {
      // The server does not know our conversation (deleted, or another help center): start fresh,
      // keeping the messages not sent yet.
      var outbox = state.outbox;
      state = freshState();
      state.outbox = outbox;
      save();
      renderAll();
      sayHello();
      return;
    }
    if (frame.code === "unavailable") {
      // The server could not save it now (its database is busy): nothing of that frame was
      // stored. Its message stays in the outbox and goes again after the advised wait (or the
      // hello, if that was what failed).
      say(t("unavailable"));
      if (frame.client_id) delete sentOnSocket[frame.client_id];
      var wait = Math.min(Math.max(Number(frame.retry_after) || 10, 1), 60) * 1000;
      var ws = socket;
      clearTimeout(unavailableTimer);
      unavailableTimer = setTimeout(function () {
        if (ws !== socket) return;  // reconnected meanwhile: that resends everything
        if (awaitingWelcome) sayHello();
        else flush();
      }, wait * (1 + Math.random() / 2));
      return;
    }
    if (frame.code === "rate_limited") {
      say(t("rate_limited"));
      // The frame was dropped: send what is still unacknowledged again a little later.
      clearTimeout(resendTimer);
      resendTimer = setTimeout(function () { sentOnSocket = {}; flush(); }, RESEND_AFTER);
    } else if (frame.code === "flood") {
      say(t("flood"), true);
    } else if (frame.code === "too_large") {
      say(t("too_long"));
    } else {
      say(t("error"));
    }
  }

  // --- The socket: connect when opened, resume, reconnect with backoff ------------------------
  var visitorReady = null;
  function prepareVisitor() {
    // On the help center itself, make sure the signed visitor cookie exists before the socket
    // opens, so a guest's chats belong to one customer. Other sites chat by token only.
    if (!SAME_SITE || !window.fetch || !window.Promise) return Promise.resolve();
    if (!visitorReady) {
      visitorReady = Promise.race([
        fetch(new URL(VISITOR_URL, ORIGIN).href, { credentials: "same-origin", cache: "no-store" }).catch(function () {}),
        new Promise(function (resolve) { setTimeout(resolve, 3000); })
      ]);
    }
    return visitorReady;
  }

  function sayHello() {
    raw({ type: "hello", conversation: state.conversation || null, after: state.lastId || null, language: LANG });
  }

  var wanted = false;
  function connect() {
    wanted = true;
    clearTimeout(retryTimer);
    if (socket && socket.readyState <= 1) return;
    setConnection(attempt ? "reconnecting" : "connecting");
    prepareVisitor().then(openSocket);
  }

  function openSocket() {
    if (socket && socket.readyState <= 1) return;
    var ws;
    try { ws = new WebSocket(SOCKET_URL); } catch (e) { scheduleReconnect(0); return; }
    socket = ws; ready = false; awaitingWelcome = true; sentOnSocket = {};
    ws.onopen = function () {
      if (ws !== socket) return;
      sayHello();
    };
    ws.onmessage = function (event) {
      if (ws !== socket) return;
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") onFrame(frame);
    };
    ws.onclose = function (event) {
      if (ws !== socket) return;
      socket = null; ready = false;
      hideTyping();
      updateChrome();
      scheduleReconnect(event.code);
    };
  }

  function scheduleReconnect(code) {
    if (!wanted) return;
    clearTimeout(retryTimer);
    // Exponential backoff with jitter, 1 s to 30 s; a flood close waits at least 30 s.
    var base = Math.min(RETRY_MAX, RETRY_MIN * Math.pow(2, attempt));
    attempt++;
    var delay = base / 2 + Math.random() * base / 2;
    if (code === 4429) delay = Math.max(delay, FLOOD_WAIT);
    setConnection(navigator.onLine === false ? "offline" : "reconnecting");
    retryTimer = setTimeout(connect, delay);
  }

  window.addEventListener("online", function () {
    if (wanted && !(socket && socket.readyState <= 1)) { attempt = 0; connect(); }
  });
  window.addEventListener("offline", function () { if (wanted && !isReady()) setConnection("offline"); });

  // Unsent messages go out once per socket, in order, paced under the server's rate limit; the
  // server stores each client_id once, so a resend is harmless.
  function flush() {
    if (!isReady()) return;
    var inFlight = state.outbox.filter(function (item) { return sentOnSocket[item.client_id]; }).length;
    for (var i = 0; i < state.outbox.length && inFlight < MAX_IN_FLIGHT; i++) {
      var item = state.outbox[i];
      if (sentOnSocket[item.client_id]) continue;
      if (budget() <= 0) {
        clearTimeout(flushTimer);
        flushTimer = setTimeout(flush, recentFrames[0] + FRAME_WINDOW - Date.now() + 50);
        return;
      }
      sentOnSocket[item.client_id] = true;
      inFlight++;
      raw({ type: "message", text: item.text, client_id: item.client_id });
    }
  }

  // --- What the customer does ---------------------------------------------------------------------
  function send(text) {
    text = (text || "").trim();
    if (!text) return false;
    if (text.length > MAX_TEXT) { say(t("too_long")); return false; }
    if (state.ended) {
      // The next message starts a new conversation (the server links it to the ended one).
      state.ended = false; state.status = "new"; state.survey = null; state.agent = null;
    }
    var item = { client_id: uuid(), text: text };
    state.outbox.push(item);
    save();
    var node = messageNode({ author: "customer", text: text, client_id: item.client_id }, true);
    pendingNodes[item.client_id] = node;
    append(node, true);
    updateChrome();
    connect();
    flush();
    return true;
  }

  function talkToPerson() {
    if (isReady() && state.conversation && state.status === "bot" && !state.ended) raw({ type: "handoff" });
    else send(t("handoff_text"));  // the bot hands over at once when asked for a person
  }

  function startNewChat() {
    // A clean screen. The ended conversation's token stays, so the next message starts a
    // follow-up of it on the server (same customer) and a reconnect does not replay it.
    var previous = state;
    state = freshState();
    state.conversation = previous.conversation;
    state.lastId = previous.lastId;
    state.outbox = previous.outbox;
    save();
    renderAll();
    input.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(input.value)) { input.value = ""; resizeInput(); }
    input.focus();
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line; never while an input method is composing (Chinese).
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      if (form.requestSubmit) form.requestSubmit(); else form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  function resizeInput() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 128) + "px";
  }
  input.addEventListener("input", function () {
    resizeInput();
    var now = Date.now();
    if (input.value.trim() && state.conversation && !state.ended && isReady() &&
        now - lastTypingSent >= TYPING_EVERY && budget() > 5) {
      lastTypingSent = now;
      raw({ type: "typing" });
    }
  });
  handoffButton.addEventListener("click", talkToPerson);
  endButton.addEventListener("click", function () { if (isReady() && state.conversation) raw({ type: "end" }); });
  newChatButton.addEventListener("click", startNewChat);
  list.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-chat-option]");
    if (!button || button.disabled) return;
    var kind = button.getAttribute("data-chat-option");
    if (kind === "handoff") talkToPerson();
    else if (isReady()) raw({ type: "choose", slug: button.getAttribute("data-slug") });
    else return;
    Array.prototype.forEach.call(button.parentNode.children, function (b) { b.setAttribute("data-used", "true"); b.disabled = true; });
    button.classList.add("hc-chat-option--chosen");
    input.focus();
  });

  // --- Open and close ---------------------------------------------------------------------------
  var opener = null;
  function updateBadge() {
    badge.textContent = unread ? t("unread", { count: unread }) : "";
    show(badge, unread > 0);
  }
  function open(options) {
    options = options || {};
    root.hidden = false;
    if (panel.hidden) {
      opener = options.opener || launcher;
      panel.hidden = false;
      root.classList.add("hc-chat--open");
      launcher.setAttribute("aria-expanded", "true");
      session.setItem(OPEN_KEY, "1");
      unread = 0; updateBadge();
      scrollToEnd();
    }
    connect();
    if (options.focus !== false) input.focus();
  }
  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    root.classList.remove("hc-chat--open");
    launcher.setAttribute("aria-expanded", "false");
    session.removeItem(OPEN_KEY);
    var back = opener && document.contains(opener) && opener.offsetParent !== null ? opener : launcher;
    back.focus();
  }
  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !event.isComposing) { event.preventDefault(); close(); }
  });
  // "Chat with us" links and buttons on the page open the widget (they work without it too).
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest && event.target.closest("[data-chat-open]");
    if (!trigger || root.contains(trigger)) return;
    event.preventDefault();
    open({ opener: trigger });
  });

  // --- Start ------------------------------------------------------------------------------------
  function mount() {
    if (!document.querySelector('link[data-hc-chat-css]')) {
      var link = el("link", { rel: "stylesheet", href: CSS_URL, "data-hc-chat-css": true });
      var reveal = function () { root.hidden = false; };
      link.addEventListener("load", reveal);
      link.addEventListener("error", reveal);
      setTimeout(reveal, 3000);
      document.head.appendChild(link);
    } else {
      root.hidden = false;
    }
    document.body.appendChild(root);
    Array.prototype.forEach.call(document.querySelectorAll("[data-chat-open][hidden]"), function (node) { node.hidden = false; });
    renderAll();
    // Reopen after a navigation inside the help center when the chat was open (not on small
    // screens, where the panel would cover the page the customer just chose to read).
    if (session.getItem(OPEN_KEY) && !(window.matchMedia && matchMedia("(max-width: 600px)").matches)) {
      open({ focus: false });
    }
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.HelpCenterChat = { open: open, close: close, send: send, version: 1 };
})();
