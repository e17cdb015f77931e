"""DJANGO_ENV=production, as the operator starts it: each case is a fresh process with a clean environment."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Every variable shop/settings.py reads that could change what these tests see, and the test
# run's own DJANGO_ALLOW_ASYNC_UNSAFE (tests/conftest.py): none may leak into the process under test.
_SETTINGS_VARIABLES = {
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_ENV",
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "DATABASE_POOL",
    "REDIS_URL",
    "PICKUP_CODE_KEY",
    "DEBUG",
    "VAR_DIR",
    "EMAIL_URL",
    "SECURE_SSL_REDIRECT",
    "CSRF_TRUSTED_ORIGINS",
    "SESSION_COOKIE_AGE",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "SITE_URL",
}

REQUIRED = ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "PICKUP_CODE_KEY"]


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _SETTINGS_VARIABLES}
    env.update(
        DJANGO_ENV="production",
        DJANGO_SETTINGS_MODULE="shop.settings",
        SECRET_KEY=secrets.token_urlsafe(50)[:50],
        ALLOWED_HOSTS="shop.example.com",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/shop",
        REDIS_URL="redis://127.0.0.1:6379/1",
        PICKUP_CODE_KEY=secrets.token_urlsafe(32),
        SITE_URL="https://shop.example.com",
        VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py, no shell
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_production_settings_pass_the_deployment_check_without_a_warning(production_env):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output
    assert "?: (security" not in output
    assert "no issues" in result.stdout


def test_the_deployment_check_does_catch_an_insecure_production_setting(production_env):
    """The check above can fail: switching HTTPS redirection off is reported."""
    production_env["SECURE_SSL_REDIRECT"] = "false"

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)

    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


@pytest.mark.parametrize("site_url", ["http://shop.example.com", "https://203.0.113.7", "http://127.0.0.1:8000"])
def test_production_refuses_a_site_url_passkeys_cannot_be_bound_to(production_env, site_url):
    """Passkeys take their relying party from SITE_URL: in production it must be https:// and a domain."""
    production_env["SITE_URL"] = site_url

    result = _run(["manage.py", "check"], production_env)

    assert result.returncode != 0
    assert "accounts.E001" in result.stdout + result.stderr


@pytest.mark.parametrize("missing", REQUIRED)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_refuses_to_start_without_a_required_variable(production_env, missing, how):
    if how == "unset":
        del production_env[missing]
    else:
        production_env[missing] = ""

    result = _run(["manage.py", "check"], production_env)

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert missing in message
    for present in set(REQUIRED) - {missing}:
        assert present not in message


def test_production_cookies_and_transport_are_locked_down(production_env):
    script = (
        "import json\n"
        "from django.conf import settings as s\n"
        "print(json.dumps({name: getattr(s, name) for name in ["
        "'SESSION_COOKIE_NAME', 'CSRF_COOKIE_NAME', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        "'SESSION_COOKIE_DOMAIN', 'CSRF_COOKIE_DOMAIN', 'SESSION_COOKIE_PATH', 'CSRF_COOKIE_PATH',"
        "'SESSION_COOKIE_HTTPONLY', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD',"
        "'SECURE_SSL_REDIRECT', 'DEBUG', 'ALLOWED_HOSTS']}))"
    )

    result = _run(["-c", script], production_env)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    # __Host- cookies are only accepted by browsers when Secure, with Path=/ and no Domain.
    assert values["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert values["CSRF_COOKIE_NAME"].startswith("__Host-")
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_DOMAIN"] is None
    assert values["CSRF_COOKIE_DOMAIN"] is None
    assert values["SESSION_COOKIE_PATH"] == values["CSRF_COOKIE_PATH"] == "/"
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == ["shop.example.com"]
