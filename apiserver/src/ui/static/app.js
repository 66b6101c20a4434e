// drover's UI script: the token form posts JSON (the API refuses form
// posts from pages), then reloads. Nothing here ever sees the token
// after it is sent: the server keeps it in an HttpOnly cookie.
"use strict";

async function send(method, body) {
  const response = await fetch("/ui/token", {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (!response.ok) {
    const text = await response.text();
    throw new Error(text || response.statusText);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.token");
  if (!form) return;
  const message = document.getElementById("token-message");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = form.querySelector("input[name=token]");
    try {
      await send("POST", { token: input.value.trim() });
      input.value = "";
      window.location.assign("/ui");
    } catch (e) {
      message.textContent = e.message;
    }
  });
  const out = document.getElementById("sign-out");
  if (out) {
    out.addEventListener("click", async () => {
      try {
        await send("DELETE");
        window.location.reload();
      } catch (e) {
        message.textContent = e.message;
      }
    });
  }
});

// Live pages: the server says when what <main> shows has changed; the
// page fetches its own <main> again and swaps it in (no reload).
document.addEventListener("DOMContentLoaded", () => {
  const main = document.getElementById("main");
  const live = main && main.dataset.live;
  if (!live || !window.EventSource) return;
  let refreshing = false;
  let again = false;
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, {
        headers: { "X-Drover-Fragment": "main" },
        credentials: "same-origin",
      });
      if (response.ok) main.innerHTML = await response.text();
    } finally {
      refreshing = false;
      if (again) { again = false; refresh(); }
    }
  }
  const source = new EventSource("/ui/live?page=" + encodeURIComponent(live));
  source.addEventListener("changed", refresh);
});

// Buttons and forms that act: sent through /ui/act as the visitor; the
// API's answer (or refusal) is shown, and the live stream refreshes the page.
async function act(method, path, body) {
  const message = document.getElementById("action-message");
  try {
    const response = await fetch("/ui/act", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ method, path, body }),
      credentials: "same-origin",
    });
    const text = await response.text();
    if (message) message.textContent = response.ok ? "Done." : text;
  } catch (e) {
    if (message) message.textContent = e.message;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-method]");
  if (!button) return;
  const confirmText = button.dataset.confirm;
  if (confirmText && !window.confirm(confirmText)) return;
  act(button.dataset.method, button.dataset.path, JSON.parse(button.dataset.body || "{}"));
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.scale");
  if (!form) return;
  event.preventDefault();
  const count = Number(form.querySelector("input[name=count]").value);
  act("POST", form.dataset.path, { group: form.dataset.group, count });
});
