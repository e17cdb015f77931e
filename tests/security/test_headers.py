"""What a browser is told to enforce on every page, and what an attacker sees when things go wrong."""

import json
import logging
from html.parser import HTMLParser

import pytest
from django.test import Client

from shop.orders.models import Order
from tests.factories import StockFactory, UserFactory

pytestmark = pytest.mark.django_db

XSS_QUERY = '"><script>alert(document.cookie)</script>'


# --- Reading a response the way a browser does ---------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}; the order in the header varies."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']} has no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        assert name not in directives, f"directive {name} appears twice"
        directives[name] = sources
    return directives


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
        if tag == "style" or "style" in attributes:
            self.inline_styles.append(self.get_starttag_text())


def page_tags(response) -> _Tags:
    parser = _Tags()
    parser.feed(response.content.decode())
    parser.close()
    return parser


def cache_control(response) -> set[str]:
    return {part.strip().lower() for part in response.headers.get("Cache-Control", "").split(",") if part.strip()}


# --- The shop, as a visitor finds it --------------------------------------------------------------


@pytest.fixture
def stock():
    return StockFactory(product__name="Blue Mug", product__slug="blue-mug", store__name="Mitte", quantity=5)


def _add_to_cart(client, product, quantity=1):
    response = client.post(f"/cart/add/{product.slug}/", {"quantity": quantity})
    assert response.status_code == 302, "adding to the cart failed; the page under test would be empty"
    return response


def _place_pickup_order(client, stock) -> Order:
    _add_to_cart(client, stock.product)
    response = client.post(
        "/checkout/", {"email": "guest@example.com", "fulfillment": "pickup", "pickup_store": stock.store.pk}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = Order.objects.get()
    assert response.headers["Location"] == f"/orders/{order.number}/pay/"
    return order


def _home(client, stock):
    return client.get("/")


def _product_list(client, stock):
    return client.get("/products/")


def _search(client, stock):
    return client.get("/products/", {"q": XSS_QUERY})


def _product(client, stock):
    return client.get(stock.product.get_absolute_url())


def _stores(client, stock):
    return client.get("/stores/")


def _empty_cart(client, stock):
    return client.get("/cart/")


def _cart_with_item(client, stock):
    _add_to_cart(client, stock.product)
    return client.get("/cart/")


def _checkout(client, stock):
    _add_to_cart(client, stock.product)
    return client.get("/checkout/")


def _order(client, stock):
    return client.get(_place_pickup_order(client, stock).get_absolute_url())


def _login(client, stock):
    return client.get("/account/login/")


def _account(client, stock):
    client.force_login(UserFactory())
    return client.get("/account/")


def _not_found(client, stock):
    return client.get(f"/no-such-page/{XSS_QUERY}")


def _admin_index(client, stock):
    """The admin as a staff member who passed both sign-in steps."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = UserFactory(is_staff=True, is_superuser=True)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.get("/admin/")


SHOP_PAGES = [
    _home,
    _product_list,
    _search,
    _product,
    _stores,
    _empty_cart,
    _cart_with_item,
    _checkout,
    _order,
    _login,
    _account,
    _not_found,
]
ALL_PAGES = [*SHOP_PAGES, _admin_index]
EXPECTED_STATUS = {_not_found: 404}


def _page_id(page) -> str:
    return page.__name__.lstrip("_")


# --- Content-Security-Policy ----------------------------------------------------------------------


@pytest.mark.parametrize("page", ALL_PAGES, ids=_page_id)
def test_every_page_sends_a_strict_content_security_policy(client, stock, page):
    response = page(client, stock)

    assert response.status_code == EXPECTED_STATUS.get(page, 200)
    policy = csp_directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["report-uri"] == ["/csp-report/"]
    assert "'self'" in policy["script-src"]
    for directive, sources in policy.items():
        for forbidden in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"):
            assert forbidden not in sources, f"{directive} allows {forbidden}"
    assert not {"data:", "http:", "https:", "blob:"} & set(policy["script-src"])


def _nonces(policy) -> set[str]:
    return {
        s.removeprefix("'nonce-").removesuffix("'") for s in policy.get("script-src", []) if s.startswith("'nonce-")
    }


@pytest.mark.parametrize("page", SHOP_PAGES, ids=_page_id)
def test_every_script_on_a_shop_page_carries_the_nonce_of_its_policy(client, stock, page):
    """A script the page did not mean to include (an injected one above all) has no nonce and cannot run."""
    response = page(client, stock)

    scripts = page_tags(response).scripts
    nonces = _nonces(csp_directives(response))
    assert len(nonces) <= 1
    for script in scripts:
        assert script.get("nonce") in nonces, f"script without the page's nonce: {script}"
    assert "alert(document.cookie)</script>" not in response.content.decode()


def test_the_admin_runs_only_scripts_from_our_own_origin(client, stock):
    """Django's admin templates put no nonce on their scripts; `script-src 'self'` still covers files from /static/."""
    response = _admin_index(client, stock)

    scripts = page_tags(response).scripts
    nonces = _nonces(csp_directives(response))
    assert scripts, "the admin login page is expected to load its scripts"
    for script in scripts:
        src = script.get("src") or ""
        own_file = src.startswith("/static/") and not src.startswith("//")
        assert own_file or script.get("nonce") in nonces, f"script the policy does not allow: {script}"


@pytest.mark.parametrize("page", ALL_PAGES, ids=_page_id)
def test_no_page_relies_on_inline_styles_the_policy_blocks(client, stock, page):
    response = page(client, stock)

    assert page_tags(response).inline_styles == []


def test_each_response_gets_a_fresh_nonce(client, stock):
    first = _nonces(csp_directives(client.get("/")))
    second = _nonces(csp_directives(client.get("/")))

    assert first and second
    assert first != second


# --- Other security headers -----------------------------------------------------------------------


@pytest.mark.parametrize("page", [_home, _product, _cart_with_item, _login, _not_found, _admin_index], ids=_page_id)
def test_pages_send_the_browser_hardening_headers(client, stock, page):
    response = page(client, stock)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    permissions = {
        feature.strip().split("=")[0]: feature.strip().split("=")[1]
        for feature in response.headers["Permissions-Policy"].split(",")
    }
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert permissions.get(feature) == "()", f"{feature} is not switched off"


@pytest.mark.parametrize("page", [_empty_cart, _cart_with_item, _checkout, _order, _account], ids=_page_id)
def test_pages_with_personal_data_are_never_stored_by_browsers_or_proxies(client, stock, page):
    response = page(client, stock)

    assert response.status_code == 200
    assert "no-store" in cache_control(response)
    assert "public" not in cache_control(response)


def test_a_guest_sees_their_order_right_after_checkout_and_it_is_not_cached(client, stock):
    order = _place_pickup_order(client, stock)

    response = client.get(order.get_absolute_url())

    assert response.status_code == 200
    assert order.number in response.content.decode()
    assert "no-store" in cache_control(response)


# --- CSP report endpoint --------------------------------------------------------------------------

REPORT = {
    "csp-report": {
        "document-uri": "https://shop.example.com/products/",
        "violated-directive": "script-src-elem",
        "blocked-uri": "https://evil.example/x.js",
    }
}


@pytest.fixture
def browser_client():
    """Browsers send reports without a CSRF token; enforce the check as production does."""
    return Client(enforce_csrf_checks=True)


def _post_report(client, body, content_type="application/csp-report"):
    return client.post("/csp-report/", data=body, content_type=content_type)


def test_a_csp_report_is_accepted_without_a_csrf_token_and_logged(browser_client, caplog):
    with caplog.at_level(logging.WARNING, logger="shop.csp"):
        response = _post_report(browser_client, json.dumps(REPORT))

    assert response.status_code == 204
    logged = [r.getMessage() for r in caplog.records if r.name == "shop.csp"]
    assert len(logged) == 1
    assert "script-src-elem" in logged[0]
    # What was blocked by its host, the page by its path: no full URL, no query string in the log.
    assert "evil.example" in logged[0] and "https://evil.example/x.js" not in logged[0]
    assert " on /products/" in logged[0] and "shop.example.com" not in logged[0]


def test_a_csp_report_that_is_not_json_is_refused(browser_client, caplog):
    with caplog.at_level(logging.WARNING, logger="shop.csp"):
        response = _post_report(browser_client, "this is not json")

    assert response.status_code == 400
    assert not [r for r in caplog.records if r.name == "shop.csp"]


@pytest.mark.parametrize(
    "body",
    [b'{"csp-report": "text"}', b'{"csp-report": [1, 2]}', b"\xff\xfe{}"],
    ids=["report-is-text", "report-is-list", "not-utf-8"],
)
def test_a_csp_report_of_the_wrong_shape_is_refused(browser_client, body):
    assert _post_report(browser_client, body).status_code == 400


def test_a_deeply_nested_csp_report_is_refused_not_a_server_error(browser_client):
    browser_client.raise_request_exception = False

    response = _post_report(browser_client, "[" * 8_000 + "]" * 8_000)

    assert response.status_code == 400


def test_the_csp_report_endpoint_only_accepts_post(browser_client):
    response = browser_client.get("/csp-report/")

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize("size", [17 * 1024, 3 * 1024 * 1024], ids=["over-16-KiB", "over-upload-limit"])
def test_an_oversized_csp_report_is_refused(browser_client, caplog, size):
    report = {"csp-report": {**REPORT["csp-report"], "script-sample": "x" * size}}

    with caplog.at_level(logging.WARNING, logger="shop.csp"):
        response = _post_report(browser_client, json.dumps(report))

    assert response.status_code == 400
    assert not [r for r in caplog.records if r.name == "shop.csp"]


def test_a_csp_report_cannot_forge_lines_in_the_log(browser_client, caplog):
    forged = "https://x.example/\n2030-01-01 00:00:00,000 ERROR shop.payments refund approved by admin\r"
    report = {"csp-report": {**REPORT["csp-report"], "blocked-uri": forged, "document-uri": "a\u2028b\x1b[31m"}}

    with caplog.at_level(logging.WARNING, logger="shop.csp"):
        response = _post_report(browser_client, json.dumps(report))

    assert response.status_code == 204
    (message,) = [r.getMessage() for r in caplog.records if r.name == "shop.csp"]
    assert not any(ch in message for ch in "\n\r\u2028\x1b")
    assert "refund approved" not in message  # only the blocked host is kept: x.example
    assert "x.example" in message and "a\\u2028b" in message, "the report is still logged, only made harmless"


# --- Error pages reveal nothing -------------------------------------------------------------------

LEAKS = ["Traceback", "Django", "django.", "SECRET_KEY", "DATABASES", "settings.py", "DEBUG", "Exception Value"]


def test_an_unknown_url_shows_our_not_found_page(client):
    response = client.get("/wp-admin/setup-config.php")

    assert response.status_code == 404
    html = response.content.decode()
    assert "We couldn’t find that page" in html
    for leak in LEAKS:
        assert leak not in html
    assert csp_directives(response)["object-src"] == ["'none'"]


def test_a_crashing_view_shows_our_error_page_without_a_traceback(client, monkeypatch):
    def broken():
        raise RuntimeError("connection to db-internal.example failed: password hunter2")

    monkeypatch.setattr("shop.catalog.selectors.categories", broken)
    client.raise_request_exception = False

    response = client.get("/")

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    for leak in [*LEAKS, "RuntimeError", "hunter2", "db-internal"]:
        assert leak not in html
    assert response.headers["X-Frame-Options"] == "DENY"
    assert csp_directives(response)["default-src"] == ["'self'"]


def test_a_form_posted_without_csrf_token_is_refused_with_a_readable_page(stock):
    attacker = Client(enforce_csrf_checks=True)

    response = attacker.post(f"/cart/add/{stock.product.slug}/", {"quantity": 1})

    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    for leak in [*LEAKS, "CSRF verification failed", "Referer"]:
        assert leak not in html
    assert attacker.get("/cart/").context["cart"].lines == []
