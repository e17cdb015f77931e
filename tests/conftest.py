"""Shared fixtures and the rule for tests that need a real service.

A test marked `postgres`, `redis` or `browser` runs when the service is there. When it is not,
the test is skipped with the reason, unless REQUIRE_POSTGRES / REQUIRE_REDIS / REQUIRE_BROWSER
is set (as .ci/run does): then the missing service is a failure, never a silent skip.
"""

import os
import shutil
from functools import cache

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@cache
def _postgres_missing() -> str | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop"
    return None


@cache
def _redis_missing() -> str | None:
    from django.conf import settings

    if not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/1"
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"needs Redis at REDIS_URL, which did not answer: {error}"
    return None


@cache
def _browser_missing() -> str | None:
    if not shutil.which(CHROMIUM):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (requirements-dev.txt)"
    return None


_SERVICES = {
    "postgres": ("REQUIRE_POSTGRES", _postgres_missing),
    "redis": ("REQUIRE_REDIS", _redis_missing),
    "browser": ("REQUIRE_BROWSER", _browser_missing),
}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """One PostgreSQL test database per pytest process, so that two runs on one machine never collide."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{os.getpid()}"


@pytest.fixture(autouse=True)
def _require_services(request):
    for marker, (variable, missing) in _SERVICES.items():
        if request.node.get_closest_marker(marker) is None:
            continue
        reason = missing()
        if reason:
            if os.environ.get(variable) == "1":
                pytest.fail(f"{variable}=1 but this test {reason}")
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_and_isolated(request, settings):
    """Fast password hashing, eager Celery (unless a test starts a real worker), a clean cache.

    The anti-hoarding limits (shop/orders/hoarding.py) are lifted, so tests about something else
    can buy several units or place several orders from one session; tests marked `hoarding` (the
    limits' own tests, attack tests, browser journeys) run with the shop's real settings."""
    from django.core.cache import cache as django_cache

    from shop.celery import app

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if request.node.get_closest_marker("hoarding") is None:
        settings.SHOP_UNPAID_STOCK_SHARE_PERCENT = 100
        settings.SHOP_UNPAID_ORDERS_PER_SESSION = settings.SHOP_UNPAID_ORDERS_PER_ACCOUNT = 10_000
        settings.SHOP_UNPAID_ORDERS_PER_ADDRESS = 10_000
        settings.SHOP_CHECKOUT_CHALLENGE_FROM_UNPAID = 10_000
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager
    django_cache.clear()


@pytest.fixture
def verified_login():
    """verified_login(client, user): signed in and verified by a TOTP device, as after both login steps."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    def login(client, user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, name="test", confirmed=True
        )
        client.force_login(user)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return device

    return login


@pytest.fixture
def celery_config():
    """The real worker of the `redis` tests: Redis as broker, as in production."""
    from django.conf import settings

    return {
        "broker_url": settings.REDIS_URL,
        "task_acks_late": True,
        "task_ignore_result": True,
        "broker_transport_options": {"visibility_timeout": 60},
    }


@pytest.fixture
def celery_worker_parameters():
    return {"queues": ("celery",), "perform_ping_check": False}


@pytest.fixture
def browser():
    """A headless Chromium (the system's, never a downloaded one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# Chromium logs a page that answers 4xx on purpose as "Failed to load resource: ... status of 409".
# A shop must answer a refused quantity or an invalid form with a 4xx, so that one message is
# ignored for the main document of a navigation (the test asserts the status itself).
DOCUMENT_STATUS = "Failed to load resource: the server responded with a status of"


@pytest.fixture
def page(browser, live_server):
    """A browser tab that fails the test on any console error (a CSP violation included)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    documents: set[str] = set()
    messages: list[tuple[str, str]] = []
    page_errors: list[str] = []

    def on_response(response):
        if response.request.is_navigation_request() and response.frame == tab.main_frame:
            documents.add(response.url)

    def on_console(message):
        if message.type == "error":
            messages.append((message.text, (message.location or {}).get("url", "")))

    tab.on("response", on_response)
    tab.on("console", on_console)
    tab.on("pageerror", lambda error: page_errors.append(str(error)))
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
    # While Playwright runs, Django's connections are per context (asgiref), not per thread: one
    # opened in the test body would outlive the test and keep the PostgreSQL test database busy.
    from django.db import connections

    connections.close_all()
    errors = page_errors + [
        text for text, url in messages if not (text.startswith(DOCUMENT_STATUS) and url in documents)
    ]
    assert not errors, f"The browser console reported errors: {errors}"
