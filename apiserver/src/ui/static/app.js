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
// Elements marked data-keep (an open log stream, a running command) are
// carried over into the new <main> in place of their fresh copies.
function swapKeeping(main, html) {
  const kept = new Map();
  main.querySelectorAll("[data-keep][id]").forEach((el) => kept.set(el.id, el));
  const fresh = document.createElement("template");
  fresh.innerHTML = html;
  fresh.content.querySelectorAll("[data-keep][id]").forEach((el) => {
    const old = kept.get(el.id);
    if (old) el.replaceWith(old);
  });
  main.replaceChildren(fresh.content);
  document.dispatchEvent(new CustomEvent("drover:refreshed"));
}

document.addEventListener("DOMContentLoaded", () => {
  const main = document.getElementById("main");
  const live = main && main.dataset.live;
  if (!live || !window.EventSource) return;
  let refreshing = false;
  let again = false;
  let waitingForBlur = false;
  // Not while the visitor types in a field of <main> (a count to scale
  // to): the refresh waits until the field is left.
  function editing() {
    const active = document.activeElement;
    return active && main.contains(active) && active.matches("input, textarea, select")
      && !active.closest("[data-keep]");
  }
  function afterBlur() {
    if (waitingForBlur) return;
    waitingForBlur = true;
    document.activeElement.addEventListener("blur", () => {
      waitingForBlur = false;
      setTimeout(refresh, 0);
    }, { once: true });
  }
  async function refresh() {
    if (editing()) { afterBlur(); return; }
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(window.location.href, {
        headers: { "X-Drover-Fragment": "main" },
        credentials: "same-origin",
      });
      const html = response.ok ? await response.text() : null;
      // The visitor may have started typing while it was fetched: what
      // they typed is kept, and the page refreshes once they leave it.
      if (html !== null && editing()) afterBlur();
      else if (html !== null) swapKeeping(main, html);
    } finally {
      refreshing = false;
      if (again) { again = false; refresh(); }
    }
  }
  const source = new EventSource("/ui/live?page=" + encodeURIComponent(live));
  source.addEventListener("changed", refresh);
  // A browser holds at most six HTTP/1.1 connections to a server: a page
  // left (or kept in the back-forward cache) gives its stream back.
  window.addEventListener("pagehide", () => source.close());
});

// Buttons and forms that act: sent through /ui/act as the visitor; the
// API's answer (or refusal) is shown, and the live stream refreshes the page.
async function act(method, path, body, then) {
  const message = document.getElementById("action-message");
  try {
    const response = await fetch("/ui/act", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ method, path, body }),
      credentials: "same-origin",
    });
    const text = await response.text();
    if (response.ok && then) { window.location.assign(then); return; }
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
  act(button.dataset.method, button.dataset.path, JSON.parse(button.dataset.body || "{}"),
    button.dataset.then);
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.scale");
  if (!form) return;
  event.preventDefault();
  const count = Number(form.querySelector("input[name=count]").value);
  act("POST", form.dataset.path, { group: form.dataset.group, count });
});

// The job editor: the file goes to /ui/plan, whose answer (the plan, or
// what is wrong with the file) is shown under it with its Run button.
document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form.editor");
  if (!form) return;
  event.preventDefault();
  const out = document.getElementById("plan");
  out.textContent = "Planning…";
  try {
    const response = await fetch("/ui/plan", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        source: form.querySelector("[name=source]").value,
        variables: form.querySelector("[name=variables]").value,
      }),
      credentials: "same-origin",
    });
    out.innerHTML = await response.text();
  } catch (e) {
    out.textContent = e.message;
  }
});

// A parameterized job's dispatch form: its meta fields and payload go to
// the API's dispatch route (the payload base64-encoded, as the API takes it).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.dispatch");
  if (!form) return;
  event.preventDefault();
  const meta = {};
  form.querySelectorAll("input[name^='meta.']").forEach((input) => {
    if (input.value !== "") meta[input.name.slice(5)] = input.value;
  });
  const body = { meta };
  const payload = form.querySelector("textarea[name=payload]");
  if (payload && payload.value !== "") {
    body.payload = btoa(String.fromCharCode(...new TextEncoder().encode(payload.value)));
  }
  act("POST", form.dataset.path, body);
});

// A task's output: streamed from /ui/logs/… (the last lines, then, when
// following, what is written next); the filter hides lines without its
// text. At most MAX_LINES lines are kept in the page.
const MAX_LINES = 5000;

function startLogs(panel) {
  if (panel.dataset.started) return;
  panel.dataset.started = "1";
  const pre = panel.querySelector("pre.logs");
  const stream = panel.querySelector("select[name=stream]");
  const follow = panel.querySelector("input[name=follow]");
  const filter = panel.querySelector("input[name=filter]");
  let controller = null;
  let lines = [];
  let partial = "";

  function render() {
    const text = filter.value;
    const shown = text ? lines.filter((l) => l.includes(text)) : lines;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = shown.join("\n");
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }

  async function open() {
    if (controller) controller.abort();
    controller = new AbortController();
    lines = [];
    partial = "";
    render();
    const query = new URLSearchParams({
      tail: panel.dataset.tail || "200",
      stderr: stream.value === "stderr" ? "true" : "false",
      follow: follow.checked ? "true" : "false",
    });
    try {
      const response = await fetch(panel.dataset.src + "?" + query, {
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (!response.ok) {
        pre.textContent = await response.text();
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parts = (partial + decoder.decode(value, { stream: true })).split("\n");
        partial = parts.pop();
        lines.push(...parts);
        if (lines.length > MAX_LINES) lines = lines.slice(lines.length - MAX_LINES);
        render();
      }
      if (partial) { lines.push(partial); partial = ""; render(); }
    } catch (e) {
      if (e.name === "AbortError") return;
      // A dropped connection (the network changed, a server restarted):
      // open again, which starts over from the last lines.
      pre.textContent += "\n[" + e.message + ": reconnecting]";
      if (follow.checked) setTimeout(open, 2000);
    }
  }

  window.addEventListener("pagehide", () => { if (controller) controller.abort(); });
  stream.addEventListener("change", open);
  follow.addEventListener("change", open);
  filter.addEventListener("input", render);
  open();
}

// A command run in a task: a WebSocket to /ui/exec/… speaking the API's
// exec frames (base64 data), its output appended as it comes.
function startExec(panel) {
  if (panel.dataset.started) return;
  panel.dataset.started = "1";
  const form = panel.querySelector("form.exec");
  const out = panel.querySelector("pre.exec-output");
  const stdinForm = panel.querySelector("form.exec-stdin");
  const stdinInput = stdinForm.querySelector("input[name=stdin]");
  let socket = null;
  const encode = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
  const decode = (data) => new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (socket) socket.close();
    const command = form.querySelector("input[name=command]").value;
    out.textContent = "";
    const url = new URL(form.dataset.src, window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("command", JSON.stringify(["/bin/sh", "-c", command]));
    url.searchParams.set("tty", "false");
    const ws = new WebSocket(url);
    socket = ws;
    let exited = false;
    ws.addEventListener("open", () => { stdinForm.hidden = false; });
    ws.addEventListener("message", (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (frame.stdout && frame.stdout.data) out.textContent += decode(frame.stdout.data);
      if (frame.stderr && frame.stderr.data) out.textContent += decode(frame.stderr.data);
      if (frame.error) out.textContent += "\n[error: " + frame.error + "]";
      if (frame.exited) {
        exited = true;
        const code = frame.result ? frame.result.exit_code : "?";
        out.textContent += "\n[exited with " + code + "]";
      }
      out.scrollTop = out.scrollHeight;
    });
    ws.addEventListener("close", (event) => {
      // Refused before it started (the token lacks alloc-exec, the task
      // stopped) or cut off: say so rather than leave the output empty.
      if (!exited && !event.wasClean) out.textContent += "\n[the command's connection closed (" + event.code + ")]";
      stdinForm.hidden = true;
      if (socket === ws) socket = null;
    });
  });
  stdinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!socket) return;
    socket.send(JSON.stringify({ stdin: { data: encode(stdinInput.value + "\n") } }));
    stdinInput.value = "";
  });
}

// An allocation's resource usage: its charts are drawn on the server;
// the panel fetches them again every USAGE_EVERY while the page is open
// and shown (kept across live refreshes, so one timer per panel). A
// failed fetch is tried again at the next tick.
const USAGE_EVERY = 10000;

function startUsage(panel) {
  if (panel.dataset.started) return;
  panel.dataset.started = "1";
  const body = panel.querySelector(".usage-body");
  const timer = setInterval(async () => {
    if (!panel.isConnected) { clearInterval(timer); return; }
    if (document.hidden) return;
    try {
      const response = await fetch(panel.dataset.src, { credentials: "same-origin" });
      if (response.ok) body.innerHTML = await response.text();
    } catch (e) {
      // Offline for a moment: the next tick asks again.
    }
  }, USAGE_EVERY);
}

function startPanels() {
  document.querySelectorAll(".logs-panel[data-src]").forEach(startLogs);
  document.querySelectorAll(".exec-panel").forEach(startExec);
  document.querySelectorAll("section.usage[data-src]").forEach(startUsage);
}
document.addEventListener("DOMContentLoaded", startPanels);
document.addEventListener("drover:refreshed", startPanels);

// "/" anywhere outside a field puts the cursor in the search box.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
  const box = document.querySelector("form.search input[name=q]");
  if (!box) return;
  event.preventDefault();
  box.focus();
});
