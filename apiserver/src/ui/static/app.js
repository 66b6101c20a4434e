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
