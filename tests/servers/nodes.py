"""Real shop processes for the multi-node tests: gunicorn nodes on loopback behind a forwarding proxy.

Each node is its own process with its own memory, on the test run's PostgreSQL test database and
Redis, so anything a limit kept in one process's memory would show up as a difference between
nodes. Tests that use them need `django_db(transaction=True)`: the nodes see only committed rows.
"""

import html
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[2]
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, process: subprocess.Popen, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process on port {port} exited: {process.stdout.read() if process.stdout else ''}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on port {port} within {timeout} s")


def start_node(port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn, no shell
        [sys.executable, "-m", "gunicorn", "shop.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_until_up(port, process)
    return process


def start_proxy(port: int, upstreams: list[int]) -> subprocess.Popen:
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and the proxy module, no shell
        [sys.executable, "-m", "tests.servers.forwarding_proxy", str(port), *map(str, upstreams)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_until_up(port, process)
    return process


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def node_environment(*, database_url: str, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TRUSTED_PROXY", "LOCKOUT_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="shop.settings",
        DJANGO_ENV="development",
        SECRET_KEY="multi-node-test-secret-key-shared-by-every-node-0123456789",
        DATABASE_URL=database_url,
        DATABASE_POOL="false",
        REDIS_URL=redis_url,
        VAR_DIR=str(var_dir),
        **extra,
    )
    return env


class Browser:
    """A client with cookies that connects from a chosen loopback address (127.0.0.0/8 is all ours)."""

    def __init__(self, source: str):
        self.source = source
        self.cookies: dict[str, str] = {}
        self.last_served_by = ""

    def request(self, port: int, method: str, path: str, data: dict | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(self.source, 0))
        sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        self.last_served_by = response.headers.get("X-Served-By", "")
        return response.status, response.headers, text

    def get(self, port: int, path: str, **kwargs):
        return self.request(port, "GET", path, **kwargs)

    def post_form(self, port: int, path: str, data: dict, *, extra=None, headers=None):
        """GET the form (CSRF token, challenge), then POST it; extra(page) adds fields read from the page."""
        status, _, page = self.get(port, path, headers=headers)
        assert status == 200, (status, page[:500])
        token = _CSRF.search(page)
        assert token, "the form carries no CSRF token"
        fields = {"csrfmiddlewaretoken": html.unescape(token.group(1)), **data, **(extra(page) if extra else {})}
        return self.request(port, "POST", path, data=fields, headers=headers)
