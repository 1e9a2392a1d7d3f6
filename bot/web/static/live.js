/*
 * The dashboard's live chat pages (bot/web/live.py): the waiting list refreshes itself, and a chat shows the
 * citizen's new messages as they arrive and sends the coordinator's without a reload. Every text goes in as a
 * text node. Without scripts both pages still work by reloading and by plain form posts.
 */
(function () {
  "use strict";

  const STRINGS = {
    none: "Ingen borgere venter lige nu.",
    waiting: "Venter",
    with: "I chat med ",
    minutes: " min.",
    newChat: "Ny borger venter: ",
    citizen: "Borgeren",
    bot: "Chatbotten",
    coordinator: " (koordinator)",
    restarted: "Samtalen startede forfra.",
    alert: "Vigtigt – chatbotten ville have reageret på dette:",
    failed: "Beskeden blev ikke sendt. Prøv igen.",
    offline: "Forbindelsen til serveren er afbrudt. Vi prøver igen.",
  };
  const LIST_EVERY_MS = 2000;
  const CHAT_EVERY_MS = 1000;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    for (const child of children || []) node.append(child);
    return node;
  }
  async function getJson(url) {
    const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
    if (answer.redirected || !answer.ok) throw new Error(String(answer.status));
    return answer.json();
  }

  // --- the waiting list -----------------------------------------------------------------------------
  const list = document.getElementById("live-list");
  if (list) {
    const table = list.querySelector("table");
    const body = table.querySelector("tbody");
    const empty = list.querySelector(".live-empty");
    const announce = document.getElementById("live-announce");
    let known = new Set(Array.from(body.querySelectorAll("a")).map((a) => a.textContent));
    async function refresh() {
      try {
        const data = await getJson(list.dataset.url);
        body.textContent = "";
        const fresh = [];
        for (const chat of data.chats) {
          if (!known.has(chat.reference)) fresh.push(chat.reference);
          body.append(el("tr", {}, [
            el("td", {}, [el("a", { href: chat.url }, [chat.reference])]),
            el("td", {}, [chat.region]),
            el("td", {}, [Math.floor(chat.waited / 60) + STRINGS.minutes]),
            el("td", { class: "text" }, [chat.question]),
            el("td", {}, [chat.state === "live" ? STRINGS.with + chat.by : STRINGS.waiting]),
          ]));
        }
        known = new Set(data.chats.map((chat) => chat.reference));
        table.hidden = data.chats.length === 0;
        empty.hidden = data.chats.length > 0;
        if (fresh.length) announce.textContent = STRINGS.newChat + fresh.join(", ");
      } catch (_err) {
        if (String(_err.message) === "401" || String(_err.message) === "403") return window.location.reload();
      }
      window.setTimeout(refresh, LIST_EVERY_MS);
    }
    window.setTimeout(refresh, LIST_EVERY_MS);
  }

  // --- one chat ---------------------------------------------------------------------------------------
  const log = document.getElementById("live-log");
  if (log) {
    const stateLine = document.getElementById("live-state");
    const form = document.getElementById("live-say");
    const error = document.getElementById("live-error");
    const holdingAtStart = Boolean(form);
    let after = Number(log.dataset.after) || 0;
    const stateAtStart = log.dataset.state || "";
    // A hand-back or a close is a plain form post: once one is on its way, the page it leads to is the truth, and a
    // poll must not reload this one over it (that would drop the answer and its message).
    let leaving = false;
    document.addEventListener("submit", (event) => {
      if (event.target !== form) leaving = true;
    });
    function line(entry) {
      const classes = "live-line live-line--" + entry.who + (entry.alert ? " live-line--alert" : "");
      if (entry.who === "system") return el("p", { class: classes }, [el("span", { class: "live-who" }, [STRINGS.restarted])]);
      const who = entry.who === "citizen" ? STRINGS.citizen : entry.who === "coordinator" ? entry.name + STRINGS.coordinator : STRINGS.bot;
      const parts = [el("span", { class: "live-who" }, [who + ":"]), " "];
      if (entry.alert) parts.push(el("strong", { class: "live-alert" }, [STRINGS.alert]), " ");
      parts.push(el("span", { class: "live-text" }, [entry.text]));
      return el("p", { class: classes }, parts);
    }
    async function poll() {
      if (leaving) return;
      try {
        const data = await getJson(log.dataset.url + "?after=" + after);
        if (leaving) return;
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
        for (const entry of data.lines) {
          log.append(line(entry));
          after = Math.max(after, entry.id);
        }
        if (data.lines.length && atEnd) log.scrollTop = log.scrollHeight;
        // The chat ended elsewhere (the lease, another tab, a colleague took it): the page shows what is true now.
        if (data.holding !== holdingAtStart || data.state !== stateAtStart) return window.location.reload();
        if (error && error.textContent === STRINGS.offline) error.textContent = "";
      } catch (_err) {
        if (leaving) return;
        if (String(_err.message) === "404") return window.location.reload();
        if (error) error.textContent = STRINGS.offline;
      }
      window.setTimeout(poll, CHAT_EVERY_MS);
    }
    log.scrollTop = log.scrollHeight;
    window.setTimeout(poll, CHAT_EVERY_MS);
    if (form) {
      const text = form.querySelector("textarea");
      text.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        if (!text.value.trim()) return;
        try {
          const answer = await fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" }, credentials: "same-origin" });
          if (answer.status === 409) return window.location.reload();
          if (!answer.ok) throw new Error(String(answer.status));
          text.value = "";
          error.textContent = "";
        } catch (_err) {
          error.textContent = STRINGS.failed;
        }
        text.focus();
      });
    }
  }
})();
