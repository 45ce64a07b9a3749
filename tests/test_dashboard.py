"""The MCP App dashboard of list_refresh_jobs: the ui:// resource, the tool's _meta, and the view itself
rendered by a real headless Chromium inside a test host page that plays the host's side of MCP Apps."""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.client import advertise
from mcp.server import MCPServer
from mcp.server.apps import EXTENSION_ID
from mcp.types import TextResourceContents

from zilliz_refresh_mcp.dashboard import DASHBOARD_MIME, DASHBOARD_URI, TOOL_UI_META, dashboard_html
from zilliz_refresh_mcp.server import DEFAULT_LIMIT, MAX_LIMIT
from zilliz_refresh_mcp.service import RefreshJobs
from zilliz_refresh_mcp.simulator import SimulatedCluster

from .conftest import FakeClock, text_of

BROWSER = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
VIEWER_TZ = "Asia/Kolkata"  # the browser's own zone: UTC+05:30 all year, so the expected text is plain arithmetic
VIEWER_OFFSET = timedelta(hours=5, minutes=30)
ARGS = {"dbName": "default", "limit": 20}
# The host's default Content-Security-Policy for a view that declares no domains (MCP Apps spec).
VIEW_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'; frame-src 'none'; object-src 'none'"
)

ClientFactory = Callable[..., Client]


def apps_client(server: MCPServer[RefreshJobs]) -> Client:
    """A modern client that negotiates MCP Apps (what a host that renders the view would send)."""
    return Client(server, extensions=[advertise(EXTENSION_ID, {"mimeTypes": [DASHBOARD_MIME]})])


CLIENTS: dict[str, ClientFactory] = {
    "auto": lambda server: Client(server),
    "auto+apps": apps_client,
    "legacy": lambda server: Client(server, mode="legacy"),
}


# --- the resource and the tool, for every kind of client ---------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(CLIENTS))
async def test_dashboard_resource_is_listed_and_served(mcp_server: MCPServer[RefreshJobs], kind: str) -> None:
    async with CLIENTS[kind](mcp_server) as client:
        listed = {resource.uri: resource for resource in (await client.list_resources()).resources}
        read = await client.read_resource(DASHBOARD_URI)
    assert DASHBOARD_URI == "ui://refresh-jobs/dashboard.html"
    assert DASHBOARD_MIME == "text/html;profile=mcp-app"
    resource = listed[DASHBOARD_URI]
    assert resource.mime_type == DASHBOARD_MIME
    assert resource.title and resource.description
    [content] = read.contents
    assert isinstance(content, TextResourceContents)
    assert content.uri == DASHBOARD_URI
    assert content.mime_type == DASHBOARD_MIME
    assert content.text == dashboard_html()
    assert content.text.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(CLIENTS))
async def test_list_refresh_jobs_points_at_the_dashboard(mcp_server: MCPServer[RefreshJobs], kind: str) -> None:
    async with CLIENTS[kind](mcp_server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    tool = tools["list_refresh_jobs"]
    assert tool.meta == TOOL_UI_META == {"ui": {"resourceUri": DASHBOARD_URI}}
    assert tool.model_dump(mode="json", by_alias=True)["_meta"]["ui"]["resourceUri"] == DASHBOARD_URI


@pytest.mark.anyio
async def test_result_is_the_same_with_and_without_apps_support(mcp_server: MCPServer[RefreshJobs]) -> None:
    """Hosts that render no UI (or negotiate nothing) get exactly the text and data a UI host gets."""
    answers = {}
    for kind, make in CLIENTS.items():
        async with make(mcp_server) as client:
            result = await client.call_tool("list_refresh_jobs", ARGS)
        assert not result.is_error, text_of(result)
        answers[kind] = (text_of(result), result.structured_content)
    assert answers["auto"] == answers["auto+apps"] == answers["legacy"]
    text, data = answers["legacy"]
    assert data is not None
    assert text.startswith(data["summary"]["text"])


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_dashboard_is_one_self_contained_document() -> None:
    html = dashboard_html()
    assert len(html.encode()) < 48 * 1024
    # No absolute or protocol-relative URL at all (this also rules out "//" comments that could hide one).
    assert "//" not in html
    lowered = html.lower()
    for needle in ("http:", "https:", "ws:", "wss:", "url(", "@import", "fetch(", "xmlhttprequest", "websocket",
                   "eventsource", "sendbeacon", "importscripts", "serviceworker"):  # fmt: skip
        assert needle not in lowered, needle
    parser = _Tags()
    parser.feed(html)
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("html") == tags.count("head") == tags.count("body") == 1
    assert tags.count("script") == tags.count("style") == 1
    for tag, attrs in parser.tags:
        assert tag not in {"link", "img", "iframe", "object", "embed", "base", "form", "a"}, tag
        assert not {"src", "href", "action", "srcset"} & set(attrs), (tag, attrs)


# --- the view in a real browser -------------------------------------------------------------------


def _require_browser() -> None:
    """Skip only on a developer machine without Chromium; in CI a missing browser is a failure."""
    missing = [str(path) for path in (BROWSER, DRIVER) if not path.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"browser test needs {', '.join(missing)} (run scripts/install-browser.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(BROWSER)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--no-default-browser-check",
        "--force-device-scale-factor=1",
        "--lang=en-US",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = {**os.environ, "TZ": VIEWER_TZ, "LANG": "en_US.UTF-8", "SE_OFFLINE": "true"}
    # An explicit driver path: Selenium Manager is never consulted, so nothing is downloaded.
    service = Service(executable_path=str(DRIVER), env=env)
    browser = webdriver.Chrome(service=service, options=options)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def portal_client(mcp_server: MCPServer[RefreshJobs]) -> Iterator[tuple[BlockingPortal, Client]]:
    """A real MCP client session (handshake era, like today's Apps hosts), usable from any thread."""
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(Client(mcp_server, mode="legacy")) as client,
    ):
        yield portal, client


def call_tool(portal: BlockingPortal, client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = portal.call(client.call_tool, name, arguments)
    wire: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return wire


HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>test host</title><link rel="icon" href="data:,">
<style>body { margin: 0; background: #777; } iframe { border: 0; width: 100%; height: 300px; display: block; }</style>
<script>
const CONFIG = __CONFIG__;
window.hostLog = [];
window.toolCalls = [];
window.callTimes = [];  // performance.now() of each tools/call the view sent
function view() { return document.getElementById("view").contentWindow; }
function hostSend(message) { view().postMessage(message, "*"); }
window.addEventListener("message", async (event) => {
  if (event.source !== view()) return;
  const msg = event.data;
  window.hostLog.push(msg);
  const reply = (result) => hostSend({jsonrpc: "2.0", id: msg.id, result});
  if (msg.method === "ui/initialize") {
    reply({protocolVersion: msg.params.protocolVersion, hostInfo: {name: "test-host", version: "1"},
           hostCapabilities: {serverTools: {}}, hostContext: CONFIG.hostContext});
  } else if (msg.method === "ui/notifications/initialized") {
    hostSend({jsonrpc: "2.0", method: "ui/notifications/tool-input", params: {arguments: CONFIG.arguments}});
    hostSend({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: CONFIG.result});
  } else if (msg.method === "tools/call") {
    window.toolCalls.push(msg.params);
    window.callTimes.push(performance.now());
    const answer = await (await fetch("/tools/call", {method: "POST", body: JSON.stringify(msg.params)})).json();
    hostSend(answer.error ? {jsonrpc: "2.0", id: msg.id, error: answer.error}
                          : {jsonrpc: "2.0", id: msg.id, result: answer.result});
  } else if (msg.method === "ui/notifications/size-changed") {
    document.getElementById("view").style.height = msg.params.height + "px";
  } else if (msg.id !== undefined && msg.method) {
    hostSend({jsonrpc: "2.0", id: msg.id, error: {code: -32601, message: "not supported: " + msg.method}});
  }
});
</script></head>
<body><iframe id="view" sandbox="allow-scripts" src="/view.html#poll=__POLL__" title="refresh jobs"></iframe>
</body></html>
"""


class _HostServer(ThreadingHTTPServer):
    # socketserver's backlog is 5: with the view polling every 0.2 s on two busy cores, Chrome's connections
    # overflowed it (ERR_SOCKET_NOT_CONNECTED, a failed fetch logged as a browser error).
    request_queue_size = 128


class HostPage:
    """Serves the host page, the view (as read through MCP, under the host's CSP) and a tools/call bridge."""

    def __init__(self, portal: BlockingPortal, client: Client, *, poll_ms: int, backoff_ms: int | None = None) -> None:
        self.portal = portal
        self.client = client
        self.view_hash = f"{poll_ms}&backoff={backoff_ms}" if backoff_ms else str(poll_ms)
        read = portal.call(client.read_resource, DASHBOARD_URI)
        [content] = read.contents
        assert isinstance(content, TextResourceContents)
        assert content.mime_type == DASHBOARD_MIME
        self.view_html = content.text.encode()
        self.page = b""
        self.server = _HostServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/host.html"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def show(self, result: dict[str, Any], arguments: dict[str, Any], host_context: dict[str, Any]) -> str:
        config = {"result": result, "arguments": arguments, "hostContext": host_context}
        self.page = (
            HOST_PAGE.replace("__CONFIG__", json.dumps(config).replace("</", "<\\/"))
            .replace("__POLL__", self.view_hash)
            .encode()
        )
        return self.url

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/host.html":
                    self._send(200, host.page, "text/html; charset=utf-8")
                elif self.path == "/view.html":
                    self._send(200, host.view_html, "text/html; charset=utf-8", Content_Security_Policy=VIEW_CSP)
                else:
                    self._send(404, b"", "text/plain")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    answer = {"result": call_tool(host.portal, host.client, body["name"], body.get("arguments") or {})}
                except Exception as err:
                    answer = {"error": {"code": -32603, "message": str(err)}}
                self._send(200, json.dumps(answer).encode(), "application/json")

        return Handler

    def __enter__(self) -> HostPage:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def wait(driver: Any, condition: Callable[[Any], Any], what: str, timeout: float = 15) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Redraws replace the rows: an element found just before a redraw goes stale, and the wait tries again.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored).until(condition, what)


def duration_text(seconds: float) -> str:
    """The view's duration format, restated."""
    s = int(seconds)
    d, h, m, r = s // 86400, s % 86400 // 3600, s % 3600 // 60, s % 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {r:02d}s"
    return f"{r}s"


def rows_on_screen(driver: Any) -> list[dict[str, Any]]:
    from selenium.webdriver.common.by import By

    rows = []
    for group in driver.find_elements(By.CSS_SELECTOR, "tbody.job"):
        row: dict[str, Any] = {
            "jobId": group.get_attribute("data-job-id"),
            "jobIdText": group.find_element(By.CSS_SELECTOR, ".jobid").text,
            "state": group.get_attribute("data-state"),
            "label": group.find_element(By.CSS_SELECTOR, ".state-label").text,
            "collection": group.find_element(By.CSS_SELECTOR, ".coll").text,
            "progress": group.find_element(By.CSS_SELECTOR, "[role=progressbar]").get_attribute("aria-valuenow"),
            "pct": group.find_element(By.CSS_SELECTOR, ".pct").text,
            "fill": group.find_element(By.CSS_SELECTOR, ".fill").get_attribute("style"),
            "started": group.find_element(By.CSS_SELECTOR, ".start-cell").text,
            "duration": group.find_element(By.CSS_SELECTOR, ".dur").text,
            "classes": (group.get_attribute("class") or "").split(),
        }
        times = group.find_elements(By.CSS_SELECTOR, "time")
        row["datetime"] = times[0].get_attribute("datetime") if times else None
        reasons = group.find_elements(By.CSS_SELECTOR, ".reason")
        row["reason"] = reasons[0].get_attribute("textContent") if reasons else None
        row["reasonColor"] = reasons[0].value_of_css_property("color") if reasons else None
        rows.append(row)
    return rows


LABELS = {
    "RefreshFailed": "Failed",
    "RefreshInProgress": "In progress",
    "RefreshPending": "Pending",
    "RefreshCompleted": "Completed",
}


def assert_shows(driver: Any, data: dict[str, Any]) -> None:
    """Everything the listing says is on screen, job by job, in the server's order."""
    from selenium.webdriver.common.by import By

    assert_local_times(driver.find_element(By.ID, "summary").text, data["summary"]["text"])
    for state, count in data["summary"]["byState"].items():
        chip = driver.find_element(By.CSS_SELECTOR, f'li.count[data-state="{state}"]')
        assert chip.find_element(By.TAG_NAME, "b").text == f"{count:,}"
    rows = rows_on_screen(driver)
    assert len(rows) == len(data["jobs"])
    for row, job in zip(rows, data["jobs"], strict=True):
        assert isinstance(job["jobId"], str)
        assert row["jobId"] == row["jobIdText"] == job["jobId"], "job ids are shown exactly"
        assert row["state"] == job["state"]
        assert row["label"] == LABELS[job["state"]]
        assert row["collection"] == job["collectionName"]
        assert row["progress"] == str(job["progress"])
        assert row["pct"] == f"{job['progress']}%"
        assert f"width: {job['progress']}%" in row["fill"]
        assert row["datetime"] == job["startedAt"]
        if job["startedAt"]:
            utc = datetime.fromisoformat(job["startedAt"].replace("Z", "+00:00"))
            local = utc + VIEWER_OFFSET
            assert local.strftime("%I:%M") in row["started"], (row["started"], job["startedAt"])
            assert "GMT+5:30" in row["started"], row["started"]
        else:
            assert row["started"] == "not started"
        if job["durationSeconds"] is None:
            assert row["duration"] == "\u2014"
        else:
            assert row["duration"].startswith(duration_text(job["durationSeconds"])), row["duration"]
        assert row["reason"] == job["reason"]
        assert ("failed" in row["classes"]) == (job["state"] == "RefreshFailed")


ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


def viewer_clock(iso: str) -> str:
    """The viewer's wall-clock time (hh:mm) of a UTC time the server wrote."""
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) + VIEWER_OFFSET).strftime("%I:%M")


def assert_local_times(shown: str, server_text: str) -> None:
    """``shown`` is the server's sentence with each of its UTC times in the viewer's zone, and nothing else changed."""
    times = ISO_TIME.findall(server_text)
    pattern = "(.+?)".join(re.escape(part) for part in ISO_TIME.split(server_text))
    match = re.fullmatch(pattern, shown, re.DOTALL)
    assert match is not None, (shown, server_text)
    for iso, local in zip(times, match.groups(), strict=True):
        assert viewer_clock(iso) in local and "GMT+5:30" in local, (iso, local)


def status_between_calls(driver: Any) -> str:
    """The view's status line when no call is in flight ("Updated ..."); empty during one ("Refreshing…")."""
    from selenium.webdriver.common.by import By

    text: str = driver.find_element(By.ID, "status").text
    return text if text.startswith("Updated ") else ""


def assert_no_browser_errors(driver: Any) -> None:
    entries = driver.get_log("browser")
    problems = [e for e in entries if e.get("level") == "SEVERE" or "Content Security Policy" in e.get("message", "")]
    assert not problems, problems


def screenshot(driver: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.switch_to.default_content()
    driver.save_screenshot(str(ARTIFACTS / name))


def enter_view(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, "view"))


def is_dark(rgb: str) -> bool:
    channels = [int(n) for n in re.findall(r"\d+", rgb)[:3]]
    return sum(channels) < 3 * 80


def test_dashboard_renders_and_refreshes_in_a_browser(
    driver: Any, portal_client: tuple[BlockingPortal, Client], clock: FakeClock
) -> None:
    from selenium.webdriver.common.by import By

    portal, client = portal_client
    first = call_tool(portal, client, "list_refresh_jobs", ARGS)
    data = first["structuredContent"]
    assert {job["state"] for job in data["jobs"]} >= set(LABELS), "the demo has a job in every state"
    assert any(int(job["jobId"]) > 2**53 for job in data["jobs"]), "ids that a JavaScript number would round"

    # A long poll interval: in this test only the Refresh button calls the tool.
    with HostPage(portal, client, poll_ms=3_600_000) as host:
        driver.set_window_size(1000, 760)
        driver.get(host.show(first, ARGS, {"theme": "light", "locale": "en-US", "displayMode": "inline"}))
        enter_view(driver)
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tbody.job")) == len(data["jobs"]), "rows")
        assert_shows(driver, data)

        failed = next(row for row in rows_on_screen(driver) if row["state"] == "RefreshFailed")
        assert failed["reason"] == next(job["reason"] for job in data["jobs"] if job["state"] == "RefreshFailed")
        assert failed["reason"].endswith("part-0007.parquet: permission denied")  # whole, not cut
        assert failed["duration"] == "11m 06s"
        assert failed["reasonColor"] == "rgba(180, 35, 24, 1)"  # the light theme's red
        running = next(row for row in rows_on_screen(driver) if row["state"] == "RefreshInProgress")
        assert running["progress"] == "42"
        assert "so far" in running["duration"]
        assert not is_dark(driver.find_element(By.TAG_NAME, "body").value_of_css_property("background-color"))
        wait(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Updated "), "status line")
        screenshot(driver, "dashboard-light.png")

        # The host switches to its dark theme.
        driver.execute_script(
            "hostSend({jsonrpc: '2.0', method: 'ui/notifications/host-context-changed', params: {theme: 'dark'}})"
        )
        enter_view(driver)
        wait(
            driver,
            lambda d: is_dark(d.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")),
            "dark theme",
        )
        reason = driver.find_element(By.CSS_SELECTOR, "tbody.failed .reason")
        assert not is_dark(reason.value_of_css_property("color"))
        screenshot(driver, "dashboard-dark.png")

        # Time passes on the cluster; Refresh asks the server again, through the host, with the same arguments.
        clock.advance(5 * 60)
        enter_view(driver)
        driver.find_element(By.ID, "refresh").click()
        movies = f'tbody[data-job-id="{running["jobId"]}"] [role=progressbar]'
        wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, movies).get_attribute("aria-valuenow") != "42", "redraw")
        second = call_tool(portal, client, "list_refresh_jobs", ARGS)["structuredContent"]
        assert second != data
        wait(driver, lambda d: not d.find_element(By.ID, "refresh").get_attribute("disabled"), "refresh done")
        assert_shows(driver, second)
        assert [row["state"] for row in rows_on_screen(driver)].count("RefreshInProgress") == 2

        driver.switch_to.default_content()
        assert driver.execute_script("return window.toolCalls") == [{"name": "list_refresh_jobs", "arguments": ARGS}]
        log = driver.execute_script("return window.hostLog")
        methods = [message.get("method") for message in log]
        assert methods[:2] == ["ui/initialize", "ui/notifications/initialized"]
        assert "ui/notifications/size-changed" in methods
        init = log[0]["params"]
        assert init["protocolVersion"] and init["appInfo"]["name"]

        # Narrow: rows become cards, everything still there.
        driver.set_window_size(380, 900)
        enter_view(driver)
        wait(
            driver, lambda d: d.find_element(By.TAG_NAME, "thead").value_of_css_property("display") == "none", "narrow"
        )
        assert_shows(driver, second)
        screenshot(driver, "dashboard-dark-narrow.png")
        assert_no_browser_errors(driver)


def test_dashboard_polls_while_jobs_run(
    driver: Any, portal_client: tuple[BlockingPortal, Client], clock: FakeClock
) -> None:
    """Running jobs make the view re-call the tool by itself; once all are done it stops saying so.
    No host theme here: the page follows the browser's prefers-color-scheme."""
    from selenium.webdriver.common.by import By

    portal, client = portal_client
    first = call_tool(portal, client, "list_refresh_jobs", ARGS)
    with HostPage(portal, client, poll_ms=200) as host:
        driver.execute_cdp_cmd(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        )
        try:
            driver.set_window_size(1000, 760)
            driver.get(host.show(first, ARGS, {}))
            wait(driver, lambda d: len(d.execute_script("return window.toolCalls")) >= 2, "two automatic calls")
            calls = driver.execute_script("return window.toolCalls")
            assert all(call == {"name": "list_refresh_jobs", "arguments": ARGS} for call in calls)

            enter_view(driver)
            assert is_dark(driver.find_element(By.TAG_NAME, "body").value_of_css_property("background-color"))
            wait(driver, lambda d: "auto-refresh every 0.2 s" in status_between_calls(d), "says it polls")

            clock.advance(3 * 3600)  # every job has ended
            wait(
                driver,
                lambda d: not d.find_elements(By.CSS_SELECTOR, "tbody.s-running, tbody.s-pending"),
                "all jobs ended",
            )
            wait(driver, lambda d: (text := status_between_calls(d)) and "auto-refresh" not in text, "polling stops")
            final = call_tool(portal, client, "list_refresh_jobs", ARGS)["structuredContent"]
            assert_shows(driver, final)
            screenshot(driver, "dashboard-dark-system.png")
            assert_no_browser_errors(driver)
        finally:
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_dashboard_pages_say_where_they_are_mark_fixed_failures_and_keep_polling(
    driver: Any, portal_client: tuple[BlockingPortal, Client], cluster: SimulatedCluster
) -> None:
    """Five failures of ext_books that later refreshes completed after, beside the demo's current one: pages of 3.
    The first holds what matters now (the current failure, the running and the pending job); the second, history
    only. Each page says which jobs of the total it shows; a fixed failure is marked and not drawn as a current
    one; the second page keeps auto-refreshing for the running job it does not show."""
    from selenium.webdriver.common.by import By

    for hours_ago in range(30, 35):
        cluster.add_job(
            "default",
            "ext_books",
            started_minutes_ago=hours_ago * 60,
            duration_minutes=5,
            fail_at_progress=50,
            reason="schema mismatch",
        )
    portal, client = portal_client
    args = {"dbName": "default", "limit": 3}
    first = call_tool(portal, client, "list_refresh_jobs", args)
    data = first["structuredContent"]
    total = data["summary"]["total"]
    assert [job["state"] for job in data["jobs"]] == ["RefreshFailed", "RefreshInProgress", "RefreshPending"]
    later = {**args, "cursor": data["page"]["nextCursor"]}
    second = call_tool(portal, client, "list_refresh_jobs", later)
    history = second["structuredContent"]["jobs"]
    assert [(job["state"], job["fixedSince"]) for job in history] == [("RefreshFailed", True)] * 3

    # Polls a minute apart: none runs while the rows are read; the status says whether the view polls.
    with HostPage(portal, client, poll_ms=60_000) as host:
        driver.set_window_size(1000, 760)
        driver.get(host.show(first, args, {"theme": "light"}))
        enter_view(driver)
        wait(driver, lambda d: d.find_element(By.ID, "more").text.startswith("Showing jobs 1\u20133 of "), "page 1")
        assert f"of {total}; {total - 3} more not shown" in driver.find_element(By.ID, "more").text
        (current,) = [row for row in rows_on_screen(driver) if row["reasonColor"]]
        assert (current["collection"], current["reasonColor"]) == ("ext_music", "rgba(180, 35, 24, 1)")  # red
        assert "fixed" not in current["classes"]
        assert_no_browser_errors(driver)

        driver.get(host.show(second, later, {"theme": "light"}))
        enter_view(driver)
        wait(driver, lambda d: "auto-refresh every 60 s" in d.find_element(By.ID, "status").text, "polls for it")
        more = driver.find_element(By.ID, "more").text
        assert more.startswith(f"Showing jobs 4\u20136 of {total}; {total - 6} more not shown"), more
        rows = rows_on_screen(driver)
        notes = {
            group.get_attribute("data-job-id"): group.find_element(By.CSS_SELECTOR, ".fixed-note").text
            for group in driver.find_elements(By.CSS_SELECTOR, "tbody.job.fixed")
        }
        assert rows and all("fixed" in row["classes"] and row["collection"] == "ext_books" for row in rows)
        assert all(row["reasonColor"] != current["reasonColor"] for row in rows)
        assert notes == {row["jobId"]: "fixed by a later refresh" for row in rows}
        assert {job["jobId"] for job in history} == set(notes)
        screenshot(driver, "dashboard-fixed-failures.png")
        assert_no_browser_errors(driver)


def test_dashboard_marks_a_job_that_may_have_stalled(
    driver: Any, portal_client: tuple[BlockingPortal, Client], cluster: SimulatedCluster, clock: FakeClock
) -> None:
    """A job stuck at 40%, listed, then listed again an hour later: its row says since when it has not moved, and
    that its estimated end assumes it resumes. A review: the row showed the estimate, later at each poll, alone."""
    from selenium.webdriver.common.by import By

    job = cluster.add_job("default", "ext_stuck", started_minutes_ago=108, duration_minutes=270, stall_at_progress=40)
    portal, client = portal_client
    args = {"dbName": "default", "collectionName": "ext_stuck"}
    call_tool(portal, client, "list_refresh_jobs", args)
    clock.advance(3600)
    later = call_tool(portal, client, "list_refresh_jobs", args)
    [listed] = later["structuredContent"]["jobs"]
    since = listed["noProgressSince"]
    with HostPage(portal, client, poll_ms=3_600_000) as host:
        driver.set_window_size(1000, 760)
        driver.get(host.show(later, args, {"theme": "light", "locale": "en-US"}))
        enter_view(driver)
        row = f'tbody[data-job-id="{job.job_id}"]'
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} .stall"), "the stall mark")
        stall = driver.find_element(By.CSS_SELECTOR, f"{row} .stall")
        shown_since = (datetime.fromisoformat(since) + VIEWER_OFFSET).strftime("%-I:%M %p")
        assert stall.text.startswith("no progress since ") and stall.text.endswith(": may have stalled")
        assert shown_since in stall.text and stall.get_attribute("title") == f"No progress since {since}"
        assert driver.find_element(By.CSS_SELECTOR, f"{row} .eta").text.endswith(" if it resumes")
        assert not driver.find_elements(By.CSS_SELECTOR, f'tbody.job:not([data-job-id="{job.job_id}"]) .stall')
        assert_no_browser_errors(driver)

        # Its record gives an end time though it runs (the API gives 0 until a job ends): still going, and marked.
        ended = json.loads(json.dumps(later))
        ended["structuredContent"]["jobs"][0]["endedAt"] = listed["startedAt"]
        driver.get(host.show(ended, args, {"theme": "light", "locale": "en-US"}))
        enter_view(driver)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} .stall"), "the stall mark, an end given")
        [shown] = rows_on_screen(driver)
        assert shown["duration"].endswith(" so far"), shown["duration"]
        assert_no_browser_errors(driver)

        # An earlier read found it further along: the row says so (the server's side: test_conversation.py).
        back = json.loads(json.dumps(later))
        back["structuredContent"]["jobs"][0]["earlierProgress"] = {"progress": 60, "readAt": listed["startedAt"]}
        driver.get(host.show(back, args, {"theme": "light", "locale": "en-US"}))
        enter_view(driver)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row} .back"), "the mark of an earlier read")
        mark = driver.find_element(By.CSS_SELECTOR, f"{row} .back")
        shown_at = (datetime.fromisoformat(listed["startedAt"]) + VIEWER_OFFSET).strftime("%I:%M %p")
        assert mark.text.startswith("down from 60% at ") and mark.text.endswith(": may have started over")
        assert shown_at in mark.text  # as the viewer's clock reads it
        assert mark.get_attribute("title") == f"An earlier read found 60% at {listed['startedAt']}"
        assert_no_browser_errors(driver)


def test_dashboard_backs_off_from_each_failed_try_and_recovers(
    driver: Any, portal_client: tuple[BlockingPortal, Client], cluster: SimulatedCluster
) -> None:
    """Every auto-refresh fails (the key no longer works): each next try waits longer, up to the cap, counted from
    the failed try, so that tries stay the cap apart once it is reached; the status says so. When the key works
    again, the next try redraws and the normal interval is back."""
    from selenium.webdriver.common.by import By

    portal, client = portal_client
    first = call_tool(portal, client, "list_refresh_jobs", ARGS)
    good_token = cluster.token
    cluster.token = "revoked-" + good_token  # every call from now on gets HTTP 401: a tool error
    poll_ms, cap_ms = 100, 400
    try:
        with HostPage(portal, client, poll_ms=poll_ms, backoff_ms=cap_ms) as host:
            driver.set_window_size(1000, 760)
            driver.get(host.show(first, ARGS, {"theme": "light"}))
            wait(driver, lambda d: len(d.execute_script("return window.callTimes")) >= 6, "six failed tries")
            times = driver.execute_script("return window.callTimes")
            gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
            # 200 ms, then 400, 400, ...: never again at once. The tool's own answer takes some of each gap.
            assert all(gap >= 0.8 * cap_ms for gap in gaps[1:]), gaps
            enter_view(driver)
            wait(driver, lambda d: "last try failed, next in 0.4 s" in d.find_element(By.ID, "status").text, "status")
            banner = driver.find_element(By.ID, "error").text
            assert "ZILLIZ_TOKEN" in banner and good_token not in banner
            assert_shows(driver, first["structuredContent"])  # the last good answer stays on screen

            cluster.token = good_token
            wait(driver, lambda d: not d.find_element(By.ID, "error").is_displayed(), "a try that works")
            wait(driver, lambda d: "auto-refresh every 0.1 s" in status_between_calls(d), "the interval is back")
            assert_no_browser_errors(driver)
            driver.get("about:blank")  # the view polls on: leave it before its host goes away
    finally:
        cluster.token = good_token


def test_dashboard_shows_the_window_and_times_in_the_viewers_zone(
    driver: Any, portal_client: tuple[BlockingPortal, Client], cluster: SimulatedCluster
) -> None:
    """The scope line names the `since` window; the summary's times are the viewer's, as the rows' are; a time
    more than half a year away shows its year ("Oct 26" alone would read as the last one)."""
    from selenium.webdriver.common.by import By

    old = cluster.add_job("default", "ext_archive", started_minutes_ago=400 * 24 * 60, duration_minutes=7)
    portal, client = portal_client
    recent = {**ARGS, "since": "2h"}
    windowed = call_tool(portal, client, "list_refresh_jobs", recent)
    data = windowed["structuredContent"]
    assert data["since"] and ISO_TIME.search(data["summary"]["text"]), "the summary names the window's start"
    everything = call_tool(portal, client, "list_refresh_jobs", ARGS)
    with HostPage(portal, client, poll_ms=3_600_000) as host:
        driver.set_window_size(1000, 760)
        driver.get(host.show(windowed, recent, {"theme": "light"}))
        enter_view(driver)
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "tbody.job")) == len(data["jobs"]), "rows")
        assert_shows(driver, data)
        scope = driver.find_element(By.ID, "scope").text
        assert scope.startswith("database default \u00b7 active since ") and viewer_clock(data["since"]) in scope

        driver.get(host.show(everything, ARGS, {"theme": "light"}))
        enter_view(driver)
        archive = f'tbody[data-job-id="{old.job_id}"] .start-cell'
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, archive), "the old job's row")
        started = next(
            job["startedAt"] for job in everything["structuredContent"]["jobs"] if job["jobId"] == str(old.job_id)
        )
        assert started[:4] in driver.find_element(By.CSS_SELECTOR, archive).text
        assert "active since" not in driver.find_element(By.ID, "scope").text
        recent_row = driver.find_element(By.CSS_SELECTOR, "tbody.s-running .start-cell").text
        assert str(datetime.now().year) not in recent_row  # this year's times stay short
        assert_no_browser_errors(driver)


def test_dashboard_polls_for_a_state_it_does_not_know_and_gives_way_to_a_text_answer(
    driver: Any, portal_client: tuple[BlockingPortal, Client]
) -> None:
    """A job in a state a newer cluster added, with no end time, is still going: "so far", grey rather than a
    running job's blue, and the view keeps polling. Its reason (not a failure's) is not drawn in red. A later answer
    with text only replaces the table rather than sitting under it; a teardown turns the button off."""
    from selenium.webdriver.common.by import By

    portal, client = portal_client
    result = call_tool(portal, client, "list_refresh_jobs", {**ARGS, "state": ["RefreshInProgress"]})
    data = result["structuredContent"]
    job = data["jobs"][0]
    job |= {"state": "RefreshCancelling", "reason": "cancel requested by admin"}
    data["summary"]["byState"] = {"RefreshCancelling": 1}
    data["summary"]["total"], data["jobs"] = 1, [job]
    result["content"] = [{"type": "text", "text": "1 job"}]
    with HostPage(portal, client, poll_ms=3_600_000) as host:
        driver.set_window_size(1000, 760)
        driver.get(host.show(result, ARGS, {"theme": "light"}))
        enter_view(driver)
        wait(driver, lambda d: "auto-refresh every 3600 s" in d.find_element(By.ID, "status").text, "polls for it")
        [row] = rows_on_screen(driver)
        assert row["duration"].endswith(" so far") and row["reason"] == "cancel requested by admin"
        assert row["reasonColor"] != "rgba(180, 35, 24, 1)"
        fill = driver.find_element(By.CSS_SELECTOR, "tbody.job .fill").value_of_css_property("background-color")
        info = driver.find_element(By.CSS_SELECTOR, "li.count .dot").value_of_css_property("background-color")
        assert fill == info  # the muted grey of a state it does not know, as its chip's dot

        driver.switch_to.default_content()
        driver.execute_script(
            "hostSend({jsonrpc: '2.0', method: 'ui/notifications/tool-result',"
            " params: {content: [{type: 'text', text: 'no structured answer'}]}})"
        )
        enter_view(driver)
        wait(driver, lambda d: d.find_element(By.ID, "fallback").is_displayed(), "the text answer")
        assert not driver.find_element(By.ID, "jobs").is_displayed()
        assert not driver.find_element(By.ID, "counts").is_displayed()
        assert driver.find_element(By.ID, "status").text == driver.find_element(By.ID, "scope").text == ""

        driver.switch_to.default_content()
        driver.execute_script("hostSend({jsonrpc: '2.0', id: 99, method: 'ui/resource-teardown', params: {}})")
        enter_view(driver)
        wait(driver, lambda d: d.find_element(By.ID, "refresh").get_attribute("disabled"), "the button is off")
        assert_no_browser_errors(driver)


def test_the_view_asks_for_the_page_sizes_the_tool_takes() -> None:
    """The view's "Show more" grows the page up to the tool's most, from its default when the call gave no limit."""
    html = dashboard_html()
    assert f"var DEFAULT_LIMIT = {DEFAULT_LIMIT};" in html
    assert f"var MAX_LIMIT = {MAX_LIMIT};" in html


def test_dashboard_shows_more_jobs_on_a_longer_page_and_keeps_it(
    driver: Any, portal_client: tuple[BlockingPortal, Client], cluster: SimulatedCluster
) -> None:
    """A page of 2 of the demo's jobs: "Show more" asks the server again with a longer page (the same question
    otherwise), shows every job, and goes away once nothing is left to show; a refresh keeps that page."""
    from selenium.webdriver.common.by import By

    portal, client = portal_client
    args = {"dbName": "default", "limit": 2}
    first = call_tool(portal, client, "list_refresh_jobs", args)
    total = first["structuredContent"]["summary"]["total"]
    assert 2 < total <= 2 + 25
    # Polls a minute apart: none runs while the rows are read.
    with HostPage(portal, client, poll_ms=60_000) as host:
        driver.set_window_size(1000, 760)
        driver.get(host.show(first, args, {"theme": "light"}))
        enter_view(driver)
        wait(driver, lambda d: d.find_element(By.ID, "show-more").is_displayed(), "the button")
        assert len(rows_on_screen(driver)) == 2
        screenshot(driver, "dashboard-show-more.png")
        enter_view(driver)
        driver.find_element(By.ID, "show-more").click()
        wait(driver, lambda d: len(rows_on_screen(d)) == total, "every job")
        assert not driver.find_element(By.ID, "show-more").is_displayed()
        assert not driver.find_element(By.ID, "more").is_displayed()  # no "Showing jobs 1-2 of ..." any more
        wait(driver, lambda d: d.find_element(By.ID, "refresh").is_enabled(), "the call is over")
        driver.find_element(By.ID, "refresh").click()
        driver.switch_to.default_content()
        wait(driver, lambda d: len(d.execute_script("return window.toolCalls")) == 2, "the refresh")
        calls = driver.execute_script("return window.toolCalls")
        assert calls == [{"name": "list_refresh_jobs", "arguments": {**args, "limit": 27}}] * 2
        enter_view(driver)
        assert_no_browser_errors(driver)
