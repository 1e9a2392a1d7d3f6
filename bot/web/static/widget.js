/*
 * Frivilligbotten's chat widget for the regions' websites.
 *
 * One script tag adds it to any page:
 *   <script src="https://…/static/widget.js" data-rasa-url="https://bot.example.dk" async></script>
 * Optional attributes: data-privacy-url (a link to the privacy notice under the input),
 * data-socket-path (Rasa's socket.io path, "/socket.io" by default).
 *
 * It loads vendor/socket.io.min.js and widget.css from the folder it was itself loaded from
 * (no external resources), then talks to Rasa's socket.io channel over the websocket transport
 * (Rasa's server does no CORS, so long-polling from another origin would fail). The session is
 * issued and signed by the server; it and the transcript are kept in sessionStorage, so a reload
 * continues the same conversation but the next person at a shared computer starts a new one (the
 * transcript holds personal data such as a name and an e-mail address). Plain modern JavaScript,
 * no build step, no framework.
 *
 * Security: bot and user text is only ever inserted as text nodes, never as HTML. URLs in the text
 * become links only for http(s), mailto and tel.
 */
(function () {
  "use strict";

  // Interface labels (Danish). The bot's own answers come from Rasa, never from this file.
  const STRINGS = {
    open: "Åbn chatten med Frivilligbotten",
    launcher: "Frivilligbotten",
    title: "Frivilligbotten",
    subtitle: "Spørg om frivilligt arbejde",
    close: "Luk chatten",
    restart: "Ny samtale",
    restartLabel: "Start en ny samtale",
    log: "Samtalen med Frivilligbotten",
    messages: "Beskeder",
    hint: "Skriv en besked for at starte samtalen – fx »Hvad kan jeg lave som frivillig?«",
    inputLabel: "Skriv din besked",
    placeholder: "Skriv din besked",
    send: "Send",
    you: "Du skrev:",
    bot: "Frivilligbotten skrev:",
    coordinator: " (frivilligkoordinator) skrev:",
    replies: "Svarmuligheder",
    typing: "Frivilligbotten skriver …",
    connecting: "Forbinder til chatten …",
    offline: "Forbindelsen til chatten er afbrudt. Vi prøver at genoprette den – vent et øjeblik.",
    unavailable: "Chatten kunne ikke indlæses. Prøv at genindlæse siden om lidt.",
    newTab: "(åbner i en ny fane)",
    privacy: "Sådan behandler vi dine oplysninger",
  };

  const SESSION_KEY = "frivilligbotten:session"; // sessionStorage: {id, seen}, the server's signed session token
  const TRANSCRIPT_KEY = "frivilligbotten:transcript"; // sessionStorage: {session, entries}
  const OPEN_KEY = "frivilligbotten:open"; // sessionStorage: "1" while the panel is open
  const SESSION_IDLE_MS = 120 * 60 * 1000; // domain.yml's session_expiration_time (a test checks they agree): then a new conversation
  const MAX_ENTRIES = 200;
  const MAX_MESSAGE_LENGTH = 1000; // bot.conventions.MAX_MESSAGE_CHARS (a test checks they agree)
  const TYPING_TIMEOUT_MS = 30000;
  const LINK_SCHEMES = new Set(["http:", "https:", "mailto:", "tel:"]);
  // Explicit http(s)/mailto/tel URLs, bare www. addresses and bare e-mail addresses.
  const LINK_RE = /\b(?:https?:\/\/|mailto:|tel:)[^\s<>"'`]+|\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>"'`]*|\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b/gi;
  const TRAILING_PUNCTUATION = ".,;:!?»«\"')]}…";

  if (window.__frivilligbottenWidget) return; // included twice: keep the first one
  window.__frivilligbottenWidget = true;

  const script = document.currentScript || document.querySelector("script[src*='widget.js'][data-rasa-url]");
  if (!script) return;
  const base = new URL(".", script.src);
  const rasaUrl = (script.dataset.rasaUrl || window.location.origin).replace(/\/+$/, "");
  const socketPath = script.dataset.socketPath || "/socket.io";
  const privacyUrl = script.dataset.privacyUrl || "";

  // --- storage that survives browsers which refuse it (private mode, blocked cookies) ---------------
  function makeStore(name) {
    let storage = null;
    try {
      storage = window[name];
      storage.setItem("frivilligbotten:probe", "1");
      storage.removeItem("frivilligbotten:probe");
    } catch (_err) {
      storage = null;
    }
    const memory = new Map();
    return {
      get(key) {
        try {
          return storage ? storage.getItem(key) : memory.has(key) ? memory.get(key) : null;
        } catch (_err) {
          return null;
        }
      },
      set(key, value) {
        try {
          if (storage) storage.setItem(key, value);
          else memory.set(key, value);
        } catch (_err) {
          memory.set(key, value);
        }
      },
      remove(key) {
        try {
          if (storage) storage.removeItem(key);
        } catch (_err) {
          /* nothing to do */
        }
        memory.delete(key);
      },
    };
  }
  const tab = makeStore("sessionStorage");

  function readJson(store, key) {
    try {
      const value = JSON.parse(store.get(key) || "null");
      return value && typeof value === "object" ? value : null;
    } catch (_err) {
      return null;
    }
  }

  // --- the Rasa session id ---------------------------------------------------------------------------
  function storedSession() {
    const value = readJson(tab, SESSION_KEY);
    if (!value || typeof value.id !== "string" || !/^[0-9a-f]{32}\.[0-9a-f]{64}$/.test(value.id)) return null;
    if (typeof value.seen !== "number" || Date.now() - value.seen > SESSION_IDLE_MS) return null;
    return value.id;
  }
  function keepSession(id) {
    tab.set(SESSION_KEY, JSON.stringify({ id: id, seen: Date.now() }));
  }

  // --- the transcript ----------------------------------------------------------------------------------
  function cleanReplies(replies) {
    if (!Array.isArray(replies)) return [];
    return replies
      .filter((r) => r && typeof r.title === "string" && typeof r.payload === "string")
      .map((r) => ({ title: r.title, payload: r.payload }));
  }
  function loadTranscript(session) {
    const value = readJson(tab, TRANSCRIPT_KEY);
    if (!value || !session || value.session !== session || !Array.isArray(value.entries)) return [];
    return value.entries
      .filter((e) => e && (e.who === "user" || e.who === "bot") && typeof e.text === "string")
      .map((e) => ({ who: e.who, text: e.text, replies: cleanReplies(e.replies), from: typeof e.from === "string" ? e.from : "" }))
      .slice(-MAX_ENTRIES);
  }
  function loadLive(session) {
    const value = readJson(tab, TRANSCRIPT_KEY);
    const same = value && session && value.session === session;
    return { on: Boolean(same && value.live === true), seen: same && typeof value.liveSeen === "number" ? value.liveSeen : 0 };
  }
  function saveTranscript() {
    if (!session) return;
    tab.set(TRANSCRIPT_KEY, JSON.stringify({ session: session, entries: entries.slice(-MAX_ENTRIES), live: live, liveSeen: liveSeen }));
  }

  // --- DOM helpers ------------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === true) node.setAttribute(name, "");
      else if (value !== false && value != null) node.setAttribute(name, String(value));
    }
    for (const child of children || []) node.append(child); // strings become text nodes
    return node;
  }
  function svg(pathData) {
    const ns = "http://www.w3.org/2000/svg";
    const icon = document.createElementNS(ns, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", pathData);
    icon.append(path);
    return icon;
  }
  const ICON_CHAT = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z";
  const ICON_CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z";

  /** The text as a fragment of text nodes and safe links (http(s), mailto, tel only). */
  function linkify(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    LINK_RE.lastIndex = 0;
    let match;
    while ((match = LINK_RE.exec(text)) !== null) {
      let raw = match[0];
      while (raw.length && TRAILING_PUNCTUATION.includes(raw[raw.length - 1])) {
        const end = raw[raw.length - 1];
        if (end === ")" && raw.split("(").length > raw.split(")").length - 1) break; // balanced: keep
        raw = raw.slice(0, -1);
      }
      const href = linkTarget(raw);
      if (!href) continue;
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      const link = el("a", { href: href.href, rel: "noopener noreferrer" }, [raw]);
      if (href.protocol === "http:" || href.protocol === "https:") {
        link.target = "_blank";
        link.append(el("span", { class: "fbw-sr" }, [" " + STRINGS.newTab]));
      }
      fragment.append(link);
      last = match.index + raw.length;
      LINK_RE.lastIndex = last;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }
  function linkTarget(raw) {
    let candidate = raw;
    if (/^www\./i.test(raw)) candidate = "https://" + raw;
    else if (/^tel:/i.test(raw)) {
      const number = raw.slice(4).replace(/[^\d+]/g, "");
      if (!/^\+?\d{3,15}$/.test(number)) return null;
      candidate = "tel:" + number;
    } else if (!/^(?:https?:\/\/|mailto:)/i.test(raw)) candidate = "mailto:" + raw;
    try {
      const url = new URL(candidate);
      return LINK_SCHEMES.has(url.protocol) ? url : null;
    } catch (_err) {
      return null;
    }
  }

  // --- state -------------------------------------------------------------------------------------------
  let session = storedSession();
  let entries = loadTranscript(session);
  const storedLive = loadLive(session);
  let live = storedLive.on; // a coordinator has the chat: no "typing" from the bot, which is silent
  let liveSeen = storedLive.seen; // the server's time of the newest live chat message shown: a reconnect asks for later ones
  let socket = null;
  let state = "idle"; // idle (not connected yet), connecting, online, offline
  let confirmed = false; // session_confirm received on the current connection
  let restarting = false;
  let typingTimer = 0;
  const queue = []; // messages typed before the first session_confirm

  // --- the widget's DOM -------------------------------------------------------------------------------
  const root = el("div", { class: "fbw", id: "frivilligbotten", lang: "da", hidden: true });
  const launcher = el("button", { type: "button", class: "fbw-launcher", "aria-label": STRINGS.open, "aria-expanded": "false", "aria-controls": "fbw-panel" }, [
    svg(ICON_CHAT),
    el("span", { class: "fbw-launcher__text" }, [STRINGS.launcher]),
  ]);
  const restartButton = el("button", { type: "button", class: "fbw-restart", "aria-label": STRINGS.restartLabel }, [STRINGS.restart]);
  const closeButton = el("button", { type: "button", class: "fbw-close", "aria-label": STRINGS.close }, [svg(ICON_CLOSE)]);
  const hint = el("p", { class: "fbw-hint" }, [STRINGS.hint]);
  const log = el("div", { class: "fbw-log", role: "log", "aria-live": "polite", "aria-label": STRINGS.log });
  const dots = el("div", { class: "fbw-typing", "aria-hidden": "true", hidden: true }, [el("span"), el("span"), el("span")]);
  const typingStatus = el("p", { class: "fbw-sr", role: "status" });
  // The scrolling area takes keyboard focus, so earlier messages can be read by keyboard when none of them holds a link or button.
  const body = el("div", { class: "fbw-body", tabindex: "0", role: "region", "aria-label": STRINGS.messages }, [hint, log, dots, typingStatus]);
  const status = el("p", { class: "fbw-status", role: "status", "aria-live": "polite" });
  const input = el("input", {
    id: "fbw-input", class: "fbw-input", type: "text", name: "message", autocomplete: "off",
    maxlength: MAX_MESSAGE_LENGTH, placeholder: STRINGS.placeholder, enterkeyhint: "send",
  });
  const sendButton = el("button", { type: "submit", class: "fbw-send" }, [STRINGS.send]);
  const form = el("form", { class: "fbw-form", novalidate: true }, [
    el("label", { class: "fbw-sr", for: "fbw-input" }, [STRINGS.inputLabel]),
    input,
    sendButton,
  ]);
  const panelChildren = [
    el("div", { class: "fbw-head" }, [
      el("div", { class: "fbw-head__titles" }, [
        el("h2", { class: "fbw-title", id: "fbw-title" }, [STRINGS.title]),
        el("p", { class: "fbw-subtitle" }, [STRINGS.subtitle]),
      ]),
      restartButton,
      closeButton,
    ]),
    body,
    status,
    form,
  ];
  if (privacyUrl && linkTarget(privacyUrl)) {
    panelChildren.push(el("p", { class: "fbw-foot" }, [el("a", { href: linkTarget(privacyUrl).href, rel: "noopener noreferrer", target: "_blank" }, [
      STRINGS.privacy, el("span", { class: "fbw-sr" }, [" " + STRINGS.newTab]),
    ])]));
  }
  const panel = el("section", { class: "fbw-panel", id: "fbw-panel", role: "dialog", "aria-labelledby": "fbw-title", hidden: true }, panelChildren);
  root.append(launcher, panel);

  // --- rendering ---------------------------------------------------------------------------------------
  function scrollToEnd() {
    body.scrollTop = body.scrollHeight;
  }
  function renderEntry(entry, withReplies) {
    const coordinator = entry.who === "bot" && entry.from;
    const bubble = el("div", { class: "fbw-msg fbw-msg--" + entry.who + (coordinator ? " fbw-msg--coordinator" : "") }, [
      coordinator
        ? el("span", { class: "fbw-from" }, [entry.from + STRINGS.coordinator + " "])
        : el("span", { class: "fbw-sr" }, [(entry.who === "user" ? STRINGS.you : STRINGS.bot) + " "]),
    ]);
    const text = el("span", { class: "fbw-text" });
    // User text is shown exactly as typed; bot text gets safe links. Both only as text nodes.
    if (entry.who === "bot") text.append(linkify(entry.text));
    else text.textContent = entry.text;
    bubble.append(text);
    log.append(bubble);
    if (withReplies && entry.replies && entry.replies.length) renderReplies(entry.replies);
  }
  function renderReplies(replies) {
    const group = el("div", { class: "fbw-replies", role: "group", "aria-label": STRINGS.replies });
    for (const reply of replies) {
      const button = el("button", { type: "button", class: "fbw-reply" }, [reply.title]);
      button.addEventListener("click", () => {
        if (!canSend()) return;
        input.focus(); // before the buttons disappear, so keyboard focus is not lost
        send(reply.payload, reply.title);
      });
      group.append(button);
    }
    log.append(group);
  }
  function removeReplies() {
    for (const group of log.querySelectorAll(".fbw-replies")) group.remove();
    const lastEntry = entries[entries.length - 1];
    if (lastEntry && lastEntry.replies && lastEntry.replies.length) lastEntry.replies = [];
  }
  function renderAll() {
    log.textContent = "";
    entries.forEach((entry, i) => renderEntry(entry, i === entries.length - 1));
    hint.hidden = entries.length > 0;
    scrollToEnd();
  }
  function addEntry(entry) {
    entries.push(entry);
    if (entries.length > MAX_ENTRIES) entries = entries.slice(-MAX_ENTRIES);
    saveTranscript();
    renderEntry(entry, true);
    hint.hidden = true;
    scrollToEnd();
  }
  function setTyping(on) {
    window.clearTimeout(typingTimer);
    dots.hidden = !on;
    typingStatus.textContent = on ? STRINGS.typing : "";
    if (on) {
      typingTimer = window.setTimeout(() => setTyping(false), TYPING_TIMEOUT_MS);
      scrollToEnd();
    }
  }
  function setState(next, message) {
    state = next;
    const offline = next === "offline";
    const hadFocus = document.activeElement === input;
    input.disabled = offline;
    sendButton.disabled = offline;
    for (const button of log.querySelectorAll(".fbw-reply")) button.disabled = offline;
    root.classList.toggle("fbw--offline", offline);
    status.textContent = message || (offline ? STRINGS.offline : next === "connecting" ? STRINGS.connecting : "");
    if (offline) {
      setTyping(false);
      if (hadFocus) {
        status.setAttribute("tabindex", "-1"); // keep keyboard focus in the panel while the input is disabled
        status.focus();
      }
    } else if (document.activeElement === status && !panel.hidden) {
      input.focus();
    }
  }

  // --- talking to Rasa ---------------------------------------------------------------------------------
  function canSend() {
    return state !== "offline";
  }
  function send(payload, shown) {
    removeReplies();
    addEntry({ who: "user", text: shown, replies: [] });
    if (!live) setTyping(true);
    if (state === "online" && confirmed && session) emitMessage(payload);
    else queue.push(payload);
  }
  function emitMessage(payload) {
    keepSession(session);
    socket.emit("user_uttered", { message: payload, session_id: session });
  }
  function onBotMessage(data) {
    if (!data || typeof data !== "object") return;
    const message = data;
    const replies = cleanReplies(message.quick_replies).concat(cleanReplies(message.buttons));
    let text = typeof message.text === "string" ? message.text : "";
    const attachment = message.attachment;
    if (!text && attachment && attachment.payload && typeof attachment.payload.src === "string") text = attachment.payload.src;
    if (!text && !replies.length) return;
    // A live chat's messages carry metadata.live (bot/rasa_server/live.py): who joined, wrote or left.
    const marker = message.metadata && typeof message.metadata === "object" ? message.metadata.live : null;
    const event = marker && typeof marker.event === "string" ? marker.event : "";
    const at = marker && typeof marker.at === "number" ? marker.at : 0;
    if (at && at <= liveSeen) return; // already shown (sent again after a reconnect)
    if (at) liveSeen = at;
    if (event) live = event === "join" || event === "say";
    const from = event === "say" && typeof marker.coordinator === "string" ? marker.coordinator : "";
    setTyping(false);
    if (session) keepSession(session);
    removeReplies();
    addEntry({ who: "bot", text: text, replies: replies, from: from });
  }
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      if (typeof window.io === "function") return resolve();
      const tag = el("script", { src: src, async: true });
      tag.addEventListener("load", () => (typeof window.io === "function" ? resolve() : reject(new Error("no io"))));
      tag.addEventListener("error", reject);
      document.head.append(tag);
    });
  }
  let clientLoaded = null;
  function connect() {
    if (socket || state === "connecting") return;
    setState("connecting");
    clientLoaded = clientLoaded || loadScript(new URL("vendor/socket.io.min.js", base).href);
    clientLoaded.then(
      () => {
        socket = window.io(rasaUrl, {
          path: socketPath,
          transports: ["websocket"], // Rasa's socket.io server sends no CORS headers: no long-polling
          reconnection: true,
          reconnectionDelay: 1000,
          reconnectionDelayMax: 8000,
          timeout: 10000,
        });
        socket.on("connect", () => {
          confirmed = false;
          socket.emit("session_request", session ? { session_id: session, live_since: liveSeen } : { session_id: session });
        });
        socket.on("session_confirm", (id) => {
          const confirmedId = typeof id === "string" ? id : id && id.session_id;
          if (typeof confirmedId !== "string" || !confirmedId) return;
          if (confirmedId !== session) {
            session = confirmedId;
            saveTranscript();
          }
          keepSession(session);
          confirmed = true;
          restarting = false;
          setState("online");
          if (queue.length) setTyping(true);
          while (queue.length) emitMessage(queue.shift());
        });
        socket.on("bot_uttered", onBotMessage);
        socket.on("disconnect", (reason) => {
          confirmed = false;
          if (restarting) return setState("connecting");
          setState("offline");
          if (reason === "io server disconnect") socket.connect(); // the server hung up: reconnect by hand
        });
        socket.on("connect_error", () => {
          if (!restarting) setState("offline");
        });
      },
      () => {
        clientLoaded = null; // try again the next time the panel is opened
        setState("offline", STRINGS.unavailable);
      },
    );
  }
  function restart() {
    session = null;
    entries = [];
    live = false;
    liveSeen = 0;
    queue.length = 0;
    tab.remove(SESSION_KEY);
    tab.remove(TRANSCRIPT_KEY);
    setTyping(false);
    renderAll();
    if (socket) {
      // A new connection leaves the old conversation's room; session_request without an id gets a new one.
      restarting = true;
      confirmed = false;
      socket.disconnect();
      socket.connect();
    }
    input.focus();
  }

  // --- opening and closing -----------------------------------------------------------------------------
  function open(moveFocus) {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    tab.set(OPEN_KEY, "1");
    connect();
    scrollToEnd();
    if (moveFocus) (input.disabled ? closeButton : input).focus();
  }
  function close() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    tab.remove(OPEN_KEY);
    launcher.focus();
  }

  launcher.addEventListener("click", () => open(true));
  closeButton.addEventListener("click", close);
  restartButton.addEventListener("click", restart);
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim().slice(0, MAX_MESSAGE_LENGTH);
    if (!text || !canSend()) return;
    input.value = "";
    send(text, text);
  });

  // --- start -------------------------------------------------------------------------------------------
  function mount() {
    document.body.append(root);
    renderAll();
    if (tab.get(OPEN_KEY) === "1") open(false);
  }
  function start() {
    const stylesheet = el("link", { rel: "stylesheet", href: new URL("widget.css", base).href });
    // Show the widget once it is styled (or when the stylesheet fails: unstyled is better than nothing).
    const show = () => {
      root.hidden = false;
      if (!panel.hidden) scrollToEnd(); // reopened by a reload: a hidden panel had no height to scroll in
    };
    stylesheet.addEventListener("load", show);
    stylesheet.addEventListener("error", show);
    document.head.append(stylesheet);
    mount();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
