"""The access log records no bearer token, query string, user agent, referrer or address."""

import datetime
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

from gunicorn.config import Config

from shop.core.access_log import FORMAT, AccessLogger, redact_path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "GQ7X2KD9PA:1tHq9Z:Vh3dXb0Z2k1fQ3u9cU7yW8eR4tY5uI6oP7aS8dF9gH0"


def _web_command() -> list[str]:
    line = next(line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:"))
    return shlex.split(line.removeprefix("web:"))


def _log_line(tmp_path, *, path, query="", agent="Mozilla/5.0 (X11; Linux) Jane's laptop") -> str:
    """One request through gunicorn's real access logging, configured as the Procfile does."""
    args = _web_command()
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", args[args.index("--access-logformat") + 1])
    logger_class = args[args.index("--logger-class") + 1]
    assert logger_class == "shop.core.access_log.AccessLogger"
    logger = AccessLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_USER_AGENT": agent,
        "HTTP_REFERER": f"https://mail.example/?from=jane@example.com&link={TOKEN}",
    }
    response = SimpleNamespace(status="200 OK", sent=1234, headers=[("Set-Cookie", "sessionid=abc")])
    request = SimpleNamespace(headers=[("COOKIE", "sessionid=abc"), ("USER-AGENT", agent)])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=42))
    for handler in logger.access_log.handlers:
        handler.flush()
    return (tmp_path / "access.log").read_text()


def test_a_guest_link_leaves_no_token_query_agent_or_address_in_the_access_log(tmp_path):
    line = _log_line(tmp_path, path=f"/orders/guest/{TOKEN}/", query="q=private+words&email=jane%40example.com")

    assert TOKEN not in line and TOKEN.split(":")[0] not in line
    assert "private" not in line and "jane" not in line and "example.com" not in line
    assert "Mozilla" not in line and "203.0.113.7" not in line and "sessionid" not in line
    assert re.search(r'"GET /orders/guest/\[redacted\]/" 200 1234 42ms', line), line


def test_a_custom_format_cannot_bring_the_hidden_atoms_back(tmp_path):
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", "%(h)s %(r)s %(q)s %(a)s %(f)s %({cookie}i)s")
    logger = AccessLogger(config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/x?token=s3cr3t",
        "PATH_INFO": "/x",
        "QUERY_STRING": "token=s3cr3t",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_USER_AGENT": "Agent",
    }
    response = SimpleNamespace(status="200 OK", sent=1, headers=[])
    logger.access(response, SimpleNamespace(headers=[("COOKIE", "c=1")]), environ, datetime.timedelta(0))

    line = (tmp_path / "access.log").read_text()
    assert "s3cr3t" not in line and "203.0.113.7" not in line and "Agent" not in line and "c=1" not in line


def test_readable_paths_stay_readable():
    assert redact_path("/orders/GQ7X2KD9PA/") == "/orders/GQ7X2KD9PA/"
    assert redact_path("/products/teapot/") == "/products/teapot/"
    assert redact_path("/account/password-reset/MQ/c2c9xz-0f7f1a2b3c4d5e6f7a8b9c0d1e2f3a4b/") == (
        "/account/password-reset/MQ/[redacted]/"
    )
    assert FORMAT in " ".join(_web_command())
