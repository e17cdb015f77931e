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
    "CARD_FINGERPRINT_KEY",
    "PAYMENT_GATEWAY",
    "SANDBOX_IN_PRODUCTION",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "TRUSTED_PROXY_HEADER",
    "TRUSTED_PROXY_ADDRESSES",
    "TRUSTED_PROXY_NONE",
    "SITE_URL",
}

REQUIRED = [
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "PICKUP_CODE_KEY",
    "CARD_FINGERPRINT_KEY",
    "PAYMENT_GATEWAY",
]


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
        CARD_FINGERPRINT_KEY=secrets.token_urlsafe(32),
        # The safe explicit choices: real payments through Stripe, behind a proxy on loopback.
        PAYMENT_GATEWAY="stripe",
        STRIPE_SECRET_KEY="sk_live_example",
        STRIPE_PUBLISHABLE_KEY="pk_live_example",
        STRIPE_WEBHOOK_SECRET="whsec_example",
        TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR",
        TRUSTED_PROXY_ADDRESSES="127.0.0.1,::1",
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


def _deploy_check(env: dict[str, str]) -> tuple[int, str]:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    return result.returncode, result.stdout + result.stderr


def test_production_on_the_sandbox_gateway_fails_the_check_and_names_the_fix(production_env):
    """The attack: a production shop on the sandbox takes made-up cards as payment."""
    production_env["PAYMENT_GATEWAY"] = "sandbox"

    returncode, output = _deploy_check(production_env)

    assert returncode != 0
    assert "shop.E001" in output
    assert "PAYMENT_GATEWAY=stripe" in output and "SANDBOX_IN_PRODUCTION=true" in output


def test_a_demo_may_run_the_sandbox_in_production_when_it_says_so(production_env):
    production_env.update(PAYMENT_GATEWAY="sandbox", SANDBOX_IN_PRODUCTION="true")

    returncode, output = _deploy_check(production_env)

    assert returncode == 0, output


def test_the_sandbox_demo_switch_with_a_real_gateway_is_refused(production_env):
    production_env["SANDBOX_IN_PRODUCTION"] = "true"

    returncode, output = _deploy_check(production_env)

    assert returncode != 0 and "shop.E002" in output


@pytest.mark.parametrize("how", ["unset", "empty"])
def test_production_without_a_trusted_proxy_decision_fails_the_check_and_names_the_fix(production_env, how):
    if how == "unset":
        del production_env["TRUSTED_PROXY_HEADER"]
    else:
        production_env["TRUSTED_PROXY_HEADER"] = ""

    returncode, output = _deploy_check(production_env)

    assert returncode != 0
    assert "shop.E003" in output
    assert "TRUSTED_PROXY_HEADER=HTTP_X_FORWARDED_FOR" in output and "TRUSTED_PROXY_NONE=true" in output


def test_production_facing_clients_directly_passes_with_the_explicit_switch(production_env):
    del production_env["TRUSTED_PROXY_HEADER"]
    production_env["TRUSTED_PROXY_NONE"] = "true"

    returncode, output = _deploy_check(production_env)

    assert returncode == 0, output


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"TRUSTED_PROXY_NONE": "true"}, "shop.E004"),
        ({"TRUSTED_PROXY_HEADER": "X-Forwarded-For"}, "shop.E005"),
        ({"TRUSTED_PROXY_ADDRESSES": ""}, "shop.E006"),
        ({"TRUSTED_PROXY_ADDRESSES": "the-proxy"}, "shop.E007"),
    ],
)
def test_contradictory_or_broken_proxy_settings_fail_the_check(production_env, change, error):
    production_env.update(change)

    returncode, output = _deploy_check(production_env)

    assert returncode != 0 and error in output, output


def test_a_card_fingerprint_key_shared_with_another_key_fails_the_check(production_env):
    production_env["CARD_FINGERPRINT_KEY"] = production_env["PICKUP_CODE_KEY"]

    returncode, output = _deploy_check(production_env)

    assert returncode != 0 and "shop.E008" in output


def test_gunicorn_refuses_to_load_the_application_when_production_is_unsafe(production_env):
    """gunicorn runs no system checks: loading shop.wsgi itself must fail."""
    production_env["PAYMENT_GATEWAY"] = "sandbox"

    result = _run(["-c", "import shop.wsgi"], production_env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "shop.E001" in result.stderr


def test_the_sandbox_gateway_is_not_mounted_when_it_is_not_the_gateway_in_use(production_env):
    """The attack: POST /sandbox-gateway/tokens/ with a made-up outcome, then pay with that token."""
    script = (
        "import django; django.setup()\n"
        "from django.urls import Resolver404, resolve\n"
        "for url in ('/sandbox-gateway/tokens/', '/sandbox-gateway/fields/', '/sandbox-gateway/3ds/ch_x/'):\n"
        "    try:\n"
        "        match = resolve(url)\n"
        "    except Resolver404:\n"
        "        print('404', url)\n"
        "    else:\n"
        "        print('mounted', url, match.view_name)\n"
    )

    result = _run(["-c", script], production_env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split().count("404") == 3, result.stdout
