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
