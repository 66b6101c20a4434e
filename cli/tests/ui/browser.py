#!/usr/bin/env python3
"""Clicks through drover's web UI in headless Chromium (WebDriver).

Run by cli/tests/it/ui_browser.rs against a live server and agents:

  browser.py click-through URL SHOTS_DIR   run a job from the editor, scale it,
                                           promote a canary, revert, read live
                                           logs, run a command, drain a node
  browser.py read-only URL SHOTS_DIR       (ACLs on) a token that may only read
                                           sees no buttons; a wrong one is refused

The environment gives what each scenario needs (UI_READ_TOKEN, UI_BAD_TOKEN,
UI_IMAGE). Every page is checked for JavaScript console errors and failed
requests; screenshots of each view, light and dark, go to SHOTS_DIR.
Exits non-zero with the reason on the first failure.
"""

import base64
import fcntl
import json
import os
import socket
import struct
import sys
import threading
import time

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT = float(os.environ.get("UI_WAIT", "90"))


OPEN = [0]


def isolate_network():
    """Inside a network namespace of its own (the test runs this script
    under `unshare --net`): bring loopback up and carry connections to
    127.0.0.1:UI_PORT through the Unix socket UI_FORWARD to the server.

    Chromium abandons what is in flight whenever the host's interfaces
    change, and Docker adds one per container it starts: here the browser
    sees no interface but loopback."""
    forward, port = os.environ.get("UI_FORWARD"), os.environ.get("UI_PORT")
    if not forward:
        return
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14s", b"lo", flags | iff_up, b"\0" * 14))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(128)

    def pipe(source, sink):
        OPEN[0] += 1
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            OPEN[0] -= 1
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        while True:
            client, _ = listener.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(forward)
            except OSError:
                client.close()
                continue
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,800", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


class Ui:
    def __init__(self, base, shots):
        self.base = base.rstrip("/")
        self.shots = shots
        os.makedirs(shots, exist_ok=True)
        self.d = browser()
        self.d.set_page_load_timeout(30)
        self.problems = []

    def close(self):
        self.d.quit()

    # --- what the browser saw -------------------------------------------
    def check_clean(self, where):
        """No console errors and no failed requests since the last check."""
        for entry in self.d.get_log("browser"):
            if entry.get("level") == "SEVERE":
                self.problems.append(f"{where}: console: {entry.get('message')}")
        for entry in self.d.get_log("performance"):
            try:
                message = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            params = message.get("params", {})
            if message.get("method") == "Network.responseReceived":
                response = params.get("response", {})
                status = response.get("status", 0)
                if status >= 400:
                    self.problems.append(f"{where}: {status} for {response.get('url')}")
            elif message.get("method") == "Network.loadingFailed":
                # A stream the page closed itself (navigation, a new stream)
                # is cancelled, not failed. Chromium also drops what is in
                # flight when the host's interfaces change, which Docker
                # does at every container start (veth pairs): the page's
                # streams reconnect, and a page that failed to load fails
                # the wait that follows.
                error = params.get("errorText")
                if not params.get("canceled") and error not in ("net::ERR_ABORTED", "net::ERR_NETWORK_CHANGED"):
                    self.problems.append(f"{where}: request failed: {error}")
        if self.problems:
            fail("; ".join(self.problems))

    def open(self, path, name=None):
        # Chromium abandons a navigation when the host's interfaces change
        # (Docker adds one per container) and shows its own error page:
        # load again, as a user would.
        for attempt in range(5):
            try:
                self.d.get(self.base + path)
            except TimeoutException:
                fail(f"{path} did not load within 30 s; the server, asked directly: {probe(self.base + path)}; "
                     f"{OPEN[0] // 2} connections open through the relay")
            self.wait(lambda d: d.execute_script("return document.readyState") == "complete",
                      f"{path} to load")
            if self.d.find_elements(By.ID, "main") or self.d.find_elements(By.CSS_SELECTOR, "form.token"):
                break
            time.sleep(0.5)
        else:
            fail(f"{path} did not load: {self.d.page_source[:500]}")
        self.check_clean(path)
        self.no_sideways_scroll(path)
        if name:
            self.shoot(name)

    def no_sideways_scroll(self, path):
        wide = self.d.execute_script(
            "return document.documentElement.scrollWidth > window.innerWidth + 1")
        if wide:
            fail(f"{path}: the page scrolls sideways at {self.d.get_window_size()}")

    def shoot(self, name):
        """The view in light and in dark (the system setting, emulated)."""
        for scheme in ("light", "dark"):
            self.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                "features": [{"name": "prefers-color-scheme", "value": scheme}]})
            time.sleep(0.2)
            # The whole page (up to 2,400 px), not only what the window shows.
            width, height = self.d.execute_script(
                "return [document.documentElement.clientWidth, document.documentElement.scrollHeight]")
            shot = self.d.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 2400), "scale": 1}})
            with open(os.path.join(self.shots, f"{name}-{scheme}.png"), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
        self.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})

    # --- finding and waiting --------------------------------------------
    def wait(self, until, what, timeout=WAIT):
        def guarded(d):
            try:
                return until(d)
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.25).until(guarded)
        except TimeoutException:
            console = [e.get("message") for e in self.d.get_log("browser")]
            fail(f"timed out after {timeout}s waiting for {what} on {self.d.current_url}\n"
                 + self.main_text()[-3000:] + f"\nconsole: {console}")

    def main_text(self):
        try:
            return self.d.find_element(By.ID, "main").text
        except Exception:
            return self.d.page_source[:3000]

    def until_text(self, text, what=None, timeout=WAIT):
        self.wait(lambda d: text in self.main_text(), what or repr(text), timeout)

    def button(self, label):
        """The visible button whose text starts with `label`."""
        def find(d):
            for b in d.find_elements(By.CSS_SELECTOR, "button"):
                if b.is_displayed() and b.text.strip().startswith(label):
                    return b
            return False
        return self.wait(find, f"a button {label!r}")

    def press(self, label, confirm=False, answer=True):
        """Presses a button; with `answer`, waits for the API's answer
        (#action-message) and fails unless it is "Done."."""
        self.d.execute_script("var m = document.getElementById('action-message'); if (m) m.textContent = '';")
        # A live refresh may swap the button out between finding and
        # clicking it: find it again.
        def clicked(d):
            self.button(label).click()
            return True
        self.wait(clicked, f"to press {label!r}")
        if confirm:
            self.wait(lambda d: alert(d), "the confirmation").accept()
        if answer:
            said = self.wait(lambda d: self.message(), f"the answer to {label!r}", timeout=30)
            if said != "Done.":
                fail(f"{label!r} was answered: {said}")

    def promote(self):
        """Presses Promote on the deployments page until the API takes it:
        the deployment counts a canary healthy a moment after the
        allocation says so, and refuses until then (the page says why)."""
        self.open("/ui/deployments")
        for _ in range(30):
            self.d.execute_script("document.getElementById('action-message').textContent = '';")
            self.wait(lambda d: self.button("Promote").click() or True, "to press 'Promote'")
            said = self.wait(lambda d: self.message(), "the answer to Promote", timeout=30)
            if said == "Done.":
                # The refusals before are answers, not failures.
                self.d.get_log("browser")
                self.d.get_log("performance")
                return
            if "canaries healthy" not in said:
                fail(f"Promote was answered: {said}")
            time.sleep(1)
        fail(f"Promote was still refused: {said}")

    def deployment_state(self, version):
        """The state of the job page's deployment of `version`, or None."""
        for table in self.d.find_elements(By.CSS_SELECTOR, "main table"):
            headers = [h.text for h in table.find_elements(By.CSS_SELECTOR, "th")]
            if "Version" not in headers or "State" not in headers:
                continue
            for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
                cells = [c.text for c in row.find_elements(By.CSS_SELECTOR, "td")]
                if len(cells) == len(headers) and "Groups (healthy/desired, canaries)" in headers \
                        and cells[headers.index("Version")] == str(version):
                    return cells[headers.index("State")]
        return None

    def until_deployed(self, version, what):
        """On the job page, which refreshes itself, until version's
        deployment succeeded."""
        self.open("/ui/job/default/web")
        self.wait(lambda d: self.deployment_state(version) == "successful", what)

    def type_into(self, css, text):
        """Types `text` into a field (a live refresh waits while a field
        has focus, but may swap it out before the first click)."""
        def typed(d):
            field = d.find_element(By.CSS_SELECTOR, css)
            field.click()
            field.clear()
            field.send_keys(text)
            return True
        self.wait(typed, f"to type into {css}")

    def until_canary_healthy(self, version):
        """On the job page until an allocation of `version` is healthy (the
        canary: promoting before is refused, as it should be)."""
        self.open("/ui/job/default/web")

        def healthy(d):
            table = d.find_elements(By.CSS_SELECTOR, "main table")[-1]
            headers = [h.text for h in table.find_elements(By.CSS_SELECTOR, "th")]
            for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
                cells = [c.text for c in row.find_elements(By.CSS_SELECTOR, "td")]
                if cells[headers.index("Version")] == str(version) and cells[headers.index("Healthy")] == "yes":
                    return True
            return False
        self.wait(healthy, f"the canary of version {version} to be healthy")

    def message(self):
        found = self.d.find_elements(By.ID, "action-message")
        return found[0].text if found else ""


    def group_cell(self, column):
        """The job page's Groups table: the first group's `column` value."""
        headers = [h.text for h in self.d.find_elements(By.CSS_SELECTOR, "main table")[0]
                   .find_elements(By.CSS_SELECTOR, "th")]
        row = self.d.find_elements(By.CSS_SELECTOR, "main table")[0].find_elements(
            By.CSS_SELECTOR, "tbody tr")[0]
        return row.find_elements(By.CSS_SELECTOR, "td")[headers.index(column)].text


def probe(url):
    """What the server answers to `url` without the browser (a diagnosis)."""
    import urllib.request
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=20) as answer:
            body = answer.read()
            return f"{answer.status}, {len(body)} bytes in {time.monotonic() - started:.2f} s"
    except Exception as e:  # any failure is the diagnosis
        return f"{e!r} after {time.monotonic() - started:.2f} s"


def alert(d):
    try:
        return d.switch_to.alert
    except NoAlertPresentException:
        return False


def fail(why):
    print(f"browser: FAILED: {why}", file=sys.stderr)
    sys.exit(1)


def job_file(image, greeting, count=1):
    return f'''job "web" {{
  datacenters = ["*"]

  update {{
    canary           = 1
    max_parallel     = 1
    auto_promote     = false
    min_healthy_time = "1s"
    healthy_deadline = "1m"
  }}

  group "web" {{
    count = {count}

    task "server" {{
      driver = "docker"

      config {{
        image   = "{image}"
        command = "/bin/sh"
        args    = ["-c", "i=0; while true; do i=$((i+1)); echo \\"tick $i $GREETING\\"; sleep 1; done"]
      }}

      env {{
        GREETING = "{greeting}"
      }}

      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
'''


def run_from_editor(ui, source, shot=None):
    ui.open("/ui/run")
    area = ui.d.find_element(By.ID, "source")
    ui.d.execute_script("arguments[0].value = arguments[1];", area, source)
    ui.press("Plan", answer=False)
    ui.wait(lambda d: "Run (check-index" in d.find_element(By.ID, "plan").text
            or "Not planned" in d.find_element(By.ID, "plan").text, "the plan")
    plan = ui.d.find_element(By.ID, "plan").text
    if "Not planned" in plan:
        fail(f"the editor refused the job: {plan}")
    if shot:
        ui.shoot(shot)
    ui.press("Run (check-index", answer=False)
    ui.wait(lambda d: "/ui/job/default/web" in d.current_url, "the job page after Run")
    ui.check_clean("run")
    return plan


def click_through(ui):
    image = os.environ["UI_IMAGE"]
    ui.open("/ui", "overview")

    # Run a job from the editor and see it running.
    plan = run_from_editor(ui, job_file(image, "hello"), "run")
    if "+ Job: \"web\"" not in plan:
        fail(f"the plan does not show the new job: {plan}")
    ui.until_text("Running", "the job page")
    ui.wait(lambda d: ui.group_cell("Running") == "1", "1 allocation running")
    print("browser: ran a job from the editor; 1 running")

    # Scale it to 2.
    ui.type_into("form.scale input[name=count]", "2")
    ui.press("Scale")
    ui.wait(lambda d: ui.group_cell("Running") == "2", "2 allocations running after Scale")
    ui.check_clean("scale")
    ui.shoot("job")
    print("browser: scaled to 2; 2 running")

    # A new version places one canary, which waits to be promoted.
    run_from_editor(ui, job_file(image, "world", count=2))
    ui.wait(lambda d: any(b.text == "Promote" for b in d.find_elements(By.CSS_SELECTOR, "button")),
            "the canary to wait for promotion")
    ui.until_canary_healthy(1)
    ui.open("/ui/deployments", "deployments")
    ui.promote()
    ui.until_deployed(1, "version 1's deployment to succeed after Promote")
    print("browser: promoted the canary; deployment successful")

    # Versions (0: the first, 1: scaled to 2, 2: GREETING world): the
    # diff shows the change; revert to version 1, which starts another
    # canary deployment as version 3, and promote that too.
    ui.open("/ui/job/default/web/versions", "versions")
    text = ui.main_text()
    if "GREETING" not in text or "hello" not in text or "world" not in text:
        fail(f"the versions page does not show the change of GREETING: {text[:2000]}")
    ui.press("Revert to version 1", confirm=True)
    ui.wait(lambda d: "Version 3" in ui.main_text(), "version 3 (the revert) to appear")
    ui.until_canary_healthy(3)
    ui.promote()
    ui.until_deployed(3, "the revert's deployment (version 3) to succeed")
    ui.open("/ui/job/default/web/definition", "definition")
    if "hello" not in ui.main_text():
        fail("the definition after the revert does not say GREETING hello")
    print("browser: reverted to version 1 (now version 3), promoted")

    # Live logs: the newest allocation's output grows without a reload.
    ui.open("/ui/job/default/web")
    ui.wait(lambda d: ui.group_cell("Running") == "2", "2 running after the revert")
    link = ui.wait(lambda d: [a for a in d.find_elements(By.CSS_SELECTOR, "main a[href^='/ui/alloc/']")
                              if " 3 run running" in a.find_element(By.XPATH, "../..").text],
                   "a running allocation of version 3")[0]
    alloc_path = link.get_attribute("href").split(ui.base, 1)[1]
    ui.open(alloc_path)
    logs = lambda d: d.find_element(By.CSS_SELECTOR, ".logs-panel pre.logs").text
    ui.wait(lambda d: "tick" in logs(d) and "hello" in logs(d), "the task's output")
    first = logs(ui.d).count("tick")
    ui.wait(lambda d: logs(d).count("tick") >= first + 2, "new lines to stream in (follow)")
    ui.type_into(".logs-panel input[name=filter]", "tick 1")
    ui.wait(lambda d: all("tick 1" in l for l in logs(d).splitlines() if l), "the filter")
    ui.type_into(".logs-panel input[name=filter]", "")
    ui.shoot("alloc")
    print("browser: logs stream live and filter")

    # Run a command in the task; its output streams back.
    ui.type_into(".exec-panel input[name=command]", "echo exec-says-$GREETING; echo to-stderr >&2; exit 3")
    ui.press("Run", answer=False)
    out = lambda d: d.find_element(By.CSS_SELECTOR, ".exec-panel pre.exec-output").text
    ui.wait(lambda d: "[exited with 3]" in out(d), "the command to exit")
    text = out(ui.d)
    if "exec-says-hello" not in text or "to-stderr" not in text:
        fail(f"the command's output is wrong: {text!r}")
    ui.check_clean("exec")
    print("browser: ran a command in the task (exit 3, stdout and stderr shown)")

    # Resource usage: per task a CPU and a memory chart, each an image named
    # by its latest values, drawn again as the agent's samples come (every
    # 10 s); then Restart task: a new container where it ran, which the
    # task's events say (the live refresh brings them).
    charts = lambda d: d.find_elements(By.CSS_SELECTOR, "section.usage svg[role=img]")
    ui.wait(lambda d: len(charts(d)) >= 2, "the usage charts")
    ui.wait(lambda d: "MHz (" in charts(d)[0].get_attribute("aria-label"),
            "a CPU rate in the chart (two samples, redrawn)")
    memory = charts(ui.d)[1].get_attribute("aria-label")
    if "Memory of " not in memory or " limit" not in memory:
        fail(f"the memory chart is named {memory!r}")
    ui.press("Restart task", confirm=True)
    ui.wait(lambda d: "Task restarted by user" in ui.main_text(), "the user's restart in the task's events")
    ui.check_clean("usage and restart")
    print(f"browser: usage charts ({memory}); restarted the task in place")

    # The job's logs: both allocations' lines, interleaved, each named.
    ui.open("/ui/job/default/web/logs")
    job_logs = lambda d: d.find_element(By.CSS_SELECTOR, ".logs-panel pre.logs").text
    ui.wait(lambda d: len({l.split(" ")[0] for l in job_logs(d).splitlines() if "/server: tick" in l}) == 2,
            "lines of both allocations, each named")
    ui.shoot("job-logs")
    print("browser: the job's logs interleave both allocations")

    # Drain the node an allocation runs on; watch them move to the other.
    ui.open("/ui/job/default/web")
    rows = ui.d.find_elements(By.CSS_SELECTOR, "main table")[-1].find_elements(By.CSS_SELECTOR, "tbody tr")
    node_name = [r.find_elements(By.CSS_SELECTOR, "td")[2].text for r in rows if " run running" in r.text][0]
    ui.open("/ui/nodes", "nodes")
    node_link = [a for a in ui.d.find_elements(By.CSS_SELECTOR, "main table a[href^='/ui/node/']")
                 if a.text == node_name][0]
    ui.open(node_link.get_attribute("href").split(ui.base, 1)[1])
    ui.shoot("node")
    ui.press("Drain", confirm=True)
    ui.wait(lambda d: "Stop draining" in d.page_source or "draining" in ui.main_text().lower(),
            "the node to drain")
    ui.open("/ui/job/default/web")

    def moved(d):
        rows = d.find_elements(By.CSS_SELECTOR, "main table")[-1].find_elements(By.CSS_SELECTOR, "tbody tr")
        running = [r.text for r in rows if " running" in r.text and " run " in r.text]
        return len(running) == 2 and all(node_name not in r for r in running)
    ui.wait(moved, f"both allocations to run off {node_name}")
    ui.check_clean("drain")
    print(f"browser: drained {node_name}; both allocations run elsewhere")

    # What happened: versions, deployments and the drain's moves on one line.
    ui.open("/ui/job/default/web/timeline", "timeline")
    ui.wait(lambda d: "moved from" in ui.main_text() and f"node {node_name}: drain complete" in ui.main_text(),
            "the drain's moves and its end on the time line (it refreshes live)")
    text = ui.main_text()
    for words in ("version 3 registered", "version 0 registered", "promoted", "successful"):
        if words not in text:
            fail(f"the time line does not say {words!r}: {text[:3000]}")
    moved_link = [a for a in ui.d.find_elements(By.CSS_SELECTOR, "ol.timeline a")
                  if "moved from" in a.text][0]
    target = moved_link.get_attribute("href")
    moved_link.click()
    ui.wait(lambda d: d.current_url == target and "/ui/alloc/" in target, "a moment to open its allocation")
    ui.check_clean("timeline")
    print("browser: the time line shows versions, deployments, the drain; a moment opens its object")

    # Keyboard search: "/" from anywhere, a name lists its matches, an
    # allocation's id prefix opens it.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    ui.open("/ui/jobs")
    ActionChains(ui.d).send_keys("/").perform()
    ui.wait(lambda d: d.switch_to.active_element.get_attribute("name") == "q", "/ to focus the search box")
    ui.d.switch_to.active_element.send_keys("web" + Keys.ENTER)
    ui.wait(lambda d: "/ui/search" in d.current_url and "Jobs (1)" in ui.main_text(), "the search's matches")
    ui.check_clean("search")
    ui.shoot("search")
    alloc_id = alloc_path.rsplit("/", 1)[1]
    ui.open("/ui/jobs")
    ActionChains(ui.d).send_keys("/").perform()
    ui.d.switch_to.active_element.send_keys(alloc_id[:8] + Keys.ENTER)
    ui.wait(lambda d: d.current_url.endswith(alloc_path), "an id prefix to open its allocation")
    ui.check_clean("search by id")
    print("browser: / searches; a name lists matches, an id prefix opens its allocation")

    # Topology: both nodes drawn; an allocation's segment opens it.
    ui.open("/ui/topology", "topology")
    boxes = ui.d.find_elements(By.CSS_SELECTOR, "section.node-box")
    if len(boxes) != 2:
        fail(f"topology draws {len(boxes)} nodes, not 2")
    segment = ui.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".bar a.segment"), "an allocation's segment")[0]
    target = segment.get_attribute("href")
    segment.click()
    ui.wait(lambda d: d.current_url == target, "the segment to open its allocation")
    ui.check_clean("topology")
    print("browser: topology draws both nodes; a segment opens its allocation")

    # The rest of the views, for the record.
    ui.open("/ui/jobs", "jobs")
    ui.open("/ui/services", "services")
    # A phone's width: nothing scrolls sideways.
    ui.d.set_window_size(390, 844)
    ui.open("/ui/job/default/web", "job-phone")
    ui.d.set_window_size(1280, 800)


def read_only(ui):
    read = os.environ["UI_READ_TOKEN"]
    bad = os.environ["UI_BAD_TOKEN"]
    # Without a token: sent to the token page.
    ui.d.get(ui.base + "/ui/jobs")
    ui.wait(lambda d: d.current_url.endswith("/ui/token"), "the token page")
    ui.check_clean("token page")
    ui.shoot("token")

    def sign_in(token):
        field = ui.d.find_element(By.CSS_SELECTOR, "form.token input[name=token]")
        field.clear()
        field.send_keys(token)
        ui.d.find_element(By.CSS_SELECTOR, "form.token button[type=submit]").click()

    # A wrong token is refused on the page and stays out.
    sign_in(bad)
    ui.wait(lambda d: d.find_element(By.ID, "token-message").text != "", "the refusal")
    # The refusal is the API's 403, which the console logs as a failed
    # resource: expected here, and cleared before the next check.
    ui.d.get_log("browser")
    ui.d.get_log("performance")
    print(f"browser: a wrong token is refused: {ui.d.find_element(By.ID, 'token-message').text}")

    # A read-only token sees every page and no button.
    sign_in(read)
    ui.wait(lambda d: d.current_url.rstrip("/").endswith("/ui"), "the overview after sign-in")
    for path in ("/ui", "/ui/jobs", "/ui/job/default/api", "/ui/job/default/api/versions",
                 "/ui/deployments", "/ui/run"):
        ui.open(path)
        pressable = [b.text for b in ui.d.find_elements(By.CSS_SELECTOR, "main button[data-method], main form.scale, main form.dispatch, main .exec-panel")]
        if pressable:
            fail(f"{path}: a read-only token sees {pressable}")
    print("browser: a read-only token sees no buttons")


def main():
    if len(sys.argv) != 4:
        fail(__doc__)
    scenario, base, shots = sys.argv[1:]
    isolate_network()
    ui = Ui(base, shots)
    try:
        {"click-through": click_through, "read-only": read_only}[scenario](ui)
    finally:
        ui.close()
    print(f"browser: {scenario} passed")


if __name__ == "__main__":
    main()
