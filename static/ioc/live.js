// Live updates: one websocket per page. The server sends {"id", "html", "open"} for the board
// and {"html"} for an incident page; we swap the fragment in and let htmx wire its buttons.
(function () {
  "use strict";
  const root = document.querySelector("[data-live]");
  if (!root) return;
  const statusEl = root.querySelector("[data-live-status]");
  const path = root.getAttribute("data-live");
  let delay = 500;

  function setStatus(text, cls) {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.className = "live-status " + (cls || "");
  }

  function fragment(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function applyBoard(msg) {
    const rows = document.getElementById("board-rows");
    const existing = document.getElementById("incident-" + msg.id);
    if (!msg.open) {
      if (existing) existing.remove();
    } else {
      const row = fragment(msg.html);
      if (existing) existing.replaceWith(row);
      else rows.prepend(row);
      if (window.htmx) window.htmx.process(row);
    }
    const empty = document.getElementById("board-empty");
    if (empty) empty.hidden = rows.children.length > 0;
  }

  // Someone typing a note or a checklist item must not lose it to a live update: hold the
  // newest update until the field is left.
  let heldIncident = null;

  function typingIn(element) {
    const active = document.activeElement;
    return active && element.contains(active) && active.matches("input, textarea, select") &&
      (active.value || "") !== "";
  }

  function applyIncident(msg) {
    const current = document.getElementById("incident-live");
    if (current && typingIn(current)) {
      heldIncident = msg;
      return;
    }
    const next = fragment(msg.html);
    if (current && next) {
      current.replaceWith(next);
      if (window.htmx) window.htmx.process(next);
    }
  }

  document.addEventListener("focusout", function () {
    setTimeout(function () {
      const current = document.getElementById("incident-live");
      if (heldIncident && current && !typingIn(current)) {
        const msg = heldIncident;
        heldIncident = null;
        applyIncident(msg);
      }
    }, 0);
  });

  // An in-app page: a notice in the corner that links to the incident.
  function showNotice(msg) {
    const notice = document.createElement("a");
    notice.className = "notice sev-" + (msg.severity || "").toLowerCase();
    notice.textContent = msg.text;
    notice.setAttribute("role", "alert");
    if (msg.url) notice.href = msg.url;
    let tray = document.getElementById("notices");
    if (!tray) {
      tray = document.createElement("div");
      tray.id = "notices";
      document.body.appendChild(tray);
    }
    tray.appendChild(notice);
    setTimeout(function () { notice.remove(); }, 60000);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + path);
    socket.onopen = function () { delay = 500; setStatus("live", "ok"); };
    socket.onmessage = function (event) {
      const msg = JSON.parse(event.data);
      if (msg.kind === "board") applyBoard(msg);
      else if (msg.kind === "incident") applyIncident(msg);
      else if (msg.kind === "notify") showNotice(msg);
    };
    socket.onclose = function () {
      setStatus("reconnecting…", "warn");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
