"""The pickup desk in the admin: lookups by QR and typed code, refusals, hand-over, and who may use it."""

import time

import pytest
from django.contrib.auth.models import Group
from django.core import signing
from django.test import Client
from django.urls import reverse

from shop.accounts import roles
from shop.orders import desk, pickup
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.models import Payment
from tests.factories import StoreFactory, UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = pytest.mark.django_db

DESK = "/admin/pickup-desk/"


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def staff(role, *stores, **fields):
    user = UserFactory(is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=role))
    for store in stores:
        store.staff.add(user)
    return user


@pytest.fixture
def manager():
    return staff(roles.MANAGER, email="manager@example.com", first_name="Mo")


@pytest.fixture
def ready(fake_gateway, manager, django_capture_on_commit_callbacks):
    """ready(**order fields) -> (order, codes): a paid pickup order of a new store, marked ready."""

    def make(*, price_minor=5000, email="sam.shopper@example.com", alternate_collector=""):
        order = order_awaiting_payment(fulfillment="pickup", price_minor=price_minor, email=email)
        if alternate_collector:
            Order.objects.filter(pk=order.pk).update(alternate_collector=alternate_collector)
        payments.pay_order(order=order, token="tok_ok", idempotency_key=f"key-{order.pk}", return_url="/r/")
        order.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            codes = pickup.mark_ready(order=order, actor=manager)
        order.refresh_from_db()
        return order, codes

    return make


@pytest.fixture
def desk_client(verified_login):
    """desk_client(*stores) -> (client, clerk): an OTP-verified clerk of those stores, signed in."""

    def make(*stores, role=roles.CLERK):
        user = staff(role, *stores)
        client = Client()
        verified_login(client, user)
        return client, user

    return make


def scan(client, token):
    return client.post(DESK, {"action": "scan", "token": token})


def lookup(client, number, code):
    return client.post(DESK, {"action": "lookup", "number": number, "code": code})


def hand_over(client, order_id, ticket):
    return client.post(DESK, {"action": "hand_over", "order_id": order_id, "ticket": ticket})


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Finding an order -------------------------------------------------------------------------


def test_the_desk_opens_with_the_scan_input_focused(desk_client):
    client, _ = desk_client(StoreFactory())
    response = client.get(DESK)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<h1>Pickup desk</h1>" in html
    assert 'name="token"' in html and "autofocus" in html
    assert 'name="number"' in html and 'name="code"' in html


def test_a_scanned_qr_token_finds_the_order(ready, desk_client):
    order, codes = ready(email="sam.shopper@example.com")
    Order.objects.filter(pk=order.pk).update(alternate_collector="Jo Neighbour")
    client, clerk = desk_client(order.store)

    response = scan(client, codes.qr_token)

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Order {order.number}" in html
    assert "s***@example.com" in html
    assert "sam.shopper@example.com" not in html
    assert "Jo Neighbour" in html
    for line in order.lines.all():
        assert line.product_name in html
    assert "Hand over" in html
    assert "ID check required" not in html
    assert codes.qr_token not in html and codes.typed not in html
    ticket = response.context["ticket"]
    assert desk.ticket_is_valid(ticket=ticket, order_id=order.pk, user=clerk)


def test_a_typed_code_in_lower_case_without_the_dash_finds_the_order(ready, desk_client):
    order, codes = ready()
    client, _ = desk_client(order.store)

    response = lookup(client, order.number.lower().replace("-", ""), codes.typed.replace("-", "").lower())

    assert response.status_code == 200
    assert response.context["order"].pk == order.pk
    assert f"Order {order.number}" in response.content.decode()


def test_an_expensive_order_asks_for_an_id_check(ready, desk_client, settings):
    order, codes = ready(price_minor=settings.SHOP_PICKUP_ID_CHECK_FROM_MINOR + 100)
    client, _ = desk_client(order.store)

    response = scan(client, codes.qr_token)

    assert response.status_code == 200
    assert "ID check required" in response.content.decode()


def test_a_wrong_code_gets_the_neutral_answer(ready, desk_client):
    order, _ = ready()
    client, _ = desk_client(order.store)

    response = lookup(client, order.number, "0000-0000")

    assert response.status_code == 404
    assert pickup.NEUTRAL in response.content.decode()
    assert "Hand over" not in response.content.decode()


def test_another_stores_order_with_the_right_code_gets_the_same_neutral_answer(ready, desk_client):
    order, codes = ready()
    client, _ = desk_client(StoreFactory())  # a clerk of another store

    typed = lookup(client, order.number, codes.typed)
    scanned = scan(client, codes.qr_token)
    unknown = lookup(client, "ZZZZZ-ZZZZZ", codes.typed)

    for response in (typed, scanned, unknown):
        assert response.status_code == 404
        assert response.context["refusal"] == pickup.NEUTRAL
        assert order.number not in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP


def test_garbage_never_gives_a_server_error(desk_client):
    client, _ = desk_client(StoreFactory())
    assert client.post(DESK, {"action": "scan"}).status_code == 404
    assert client.post(DESK, {"action": "lookup", "number": "x" * 500, "code": ""}).status_code == 404
    assert client.post(DESK, {"action": "nonsense"}).status_code == 400
    assert client.post(DESK, {"action": "hand_over", "order_id": "abc", "ticket": ""}).status_code == 400
    assert client.post(DESK, {"action": "release", "order_id": "abc"}).status_code == 403  # clerks never release


def test_a_locked_order_is_refused_with_423(ready, desk_client, settings):
    order, codes = ready()
    client, _ = desk_client(order.store)
    for _ in range(settings.SHOP_PICKUP_WRONG_CODES_PER_ORDER - 1):
        assert lookup(client, order.number, "0000-0000").status_code == 404

    locking = lookup(client, order.number, "0000-0000")
    right_code = lookup(client, order.number, codes.typed)

    assert locking.status_code == right_code.status_code == 423
    assert "is locked" in right_code.content.decode()
    assert "Hand over" not in right_code.content.decode()
    assert "Release lock" not in right_code.content.decode()  # only a Shop manager releases
    assert scan(client, codes.qr_token).status_code == 423


def test_a_manager_releases_a_locked_order_at_the_desk(ready, desk_client, manager, verified_login):
    order, codes = ready()
    Order.objects.filter(pk=order.pk).update(pickup_locked_at=order.updated_at, wrong_code_count=5)
    client = Client()
    verified_login(client, manager)

    page = client.get(DESK)
    assert f"Release lock of order {order.number}" in page.content.decode()
    response = client.post(DESK, {"action": "release", "order_id": order.pk})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.pickup_locked_at is None
    clerk_client, _ = desk_client(order.store)
    assert scan(clerk_client, codes.qr_token).status_code == 200


def test_too_many_wrong_codes_pause_the_clerks_desk_with_429(ready, desk_client, settings):
    order, codes = ready()
    client, _ = desk_client(order.store)
    for _ in range(settings.SHOP_PICKUP_WRONG_CODES_PER_CLERK - 1):
        assert scan(client, "f" * 32).status_code == 404

    pausing = scan(client, "f" * 32)
    right = scan(client, codes.qr_token)

    assert pausing.status_code == right.status_code == 429
    assert pickup.DESK_PAUSED in right.content.decode()
    assert "Hand over" not in right.content.decode()


# --- Handing over -----------------------------------------------------------------------------


def test_hand_over_collects_the_order_and_returns_to_an_empty_desk(
    ready, desk_client, django_capture_on_commit_callbacks
):
    order, codes = ready()
    client, clerk = desk_client(order.store)
    ticket = scan(client, codes.qr_token).context["ticket"]

    with django_capture_on_commit_callbacks(execute=True):
        response = hand_over(client, order.pk, ticket)

    assert response.status_code == 302
    assert response.url == DESK
    order.refresh_from_db()
    assert order.status == Order.Status.COLLECTED
    assert order.collected_by == clerk
    assert Payment.objects.get(order=order).status == Payment.Status.CAPTURED
    following = client.get(DESK)
    assert f"Order {order.number} handed over." in messages_of(following)
    assert "order" not in following.context
    # Used once: the same code now finds nothing, and the same ticket hands over nothing again.
    assert scan(client, codes.qr_token).status_code == 404
    again = hand_over(client, order.pk, ticket)
    assert again.status_code == 409
    assert "already handed over" in again.context["refusal"]


def test_when_the_desk_asks_for_an_id_check_hand_over_needs_the_tick(ready, desk_client):
    order, codes = ready(price_minor=15000)
    client, clerk = desk_client(order.store)
    found = scan(client, codes.qr_token)
    assert found.context["id_check"] and 'name="id_checked"' in found.text
    assert '<label for="id_checked">I checked the customer\'s photo ID' in found.text.replace("&#x27;", "'")

    refused = hand_over(client, order.pk, found.context["ticket"])

    assert refused.status_code == 400
    assert pickup.ID_CHECK_MISSING in refused.text.replace("&#x27;", "'")
    assert Order.objects.get(pk=order.pk).status == Order.Status.READY_FOR_PICKUP
    ticked = client.post(
        DESK, {"action": "hand_over", "order_id": order.pk, "ticket": refused.context["ticket"], "id_checked": "on"}
    )
    assert ticked.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.COLLECTED and order.id_checked is True


def _refused_hand_over(client, order, ticket):
    response = hand_over(client, order.pk, ticket)
    assert response.status_code == 400
    assert desk.EXPIRED_TICKET in messages_of(response)
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP
    return response


def test_hand_over_without_a_lookup_or_with_a_forged_ticket_is_refused(ready, desk_client):
    order, _ = ready()
    client, clerk = desk_client(order.store)

    _refused_hand_over(client, order, "")
    _refused_hand_over(client, order, "forged")
    forged = signing.dumps({"o": order.pk, "u": clerk.pk, "p": "hand"}, key="not-the-secret-key", salt=desk.TICKET_SALT)
    _refused_hand_over(client, order, forged)
    wrong_salt = signing.dumps({"o": order.pk, "u": clerk.pk, "p": "hand"})
    _refused_hand_over(client, order, wrong_salt)


def test_a_ticket_for_another_order_or_another_clerk_is_refused(ready, desk_client):
    order, codes = ready()
    other_order, _ = ready()
    other_order.store.staff.add(*order.store.staff.all())
    client, clerk = desk_client(order.store, other_order.store)
    colleague_client, colleague = desk_client(order.store)

    ticket = scan(client, codes.qr_token).context["ticket"]

    _refused_hand_over(client, other_order, ticket)  # this ticket is for `order` only
    _refused_hand_over(colleague_client, order, ticket)  # and for `clerk` only


def test_an_expired_ticket_is_refused(ready, desk_client, monkeypatch):
    order, codes = ready()
    client, _ = desk_client(order.store)
    ticket = scan(client, codes.qr_token).context["ticket"]

    later = time.time() + desk.TICKET_MAX_AGE + 1
    monkeypatch.setattr(signing.time, "time", lambda: later)

    _refused_hand_over(client, order, ticket)


def test_a_lookup_by_another_stores_clerk_cannot_hand_over_with_a_ticket_of_their_own(ready, desk_client):
    """Even a valid ticket is only a binding: hand_over still checks the clerk's stores."""
    order, _ = ready()
    client, stranger = desk_client(StoreFactory())
    ticket = desk.issue_ticket(order_id=order.pk, user=stranger)

    response = hand_over(client, order.pk, ticket)

    assert response.status_code == 404
    assert response.context["refusal"] == pickup.NEUTRAL
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP


# --- Who may use the desk and the rest of the admin -------------------------------------------


def test_the_clerk_role_has_only_the_desk_permission():
    codes = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=roles.CLERK).permissions.select_related("content_type")
    }
    assert codes == {"orders.use_pickup_desk"}
    manager_codes = {p.codename for p in Group.objects.get(name=roles.MANAGER).permissions.all()}
    assert "use_pickup_desk" in manager_codes


def test_a_clerk_sees_the_desk_link_and_cannot_open_other_admin_pages(ready, desk_client):
    order, _ = ready()
    client, clerk = desk_client(StoreFactory())

    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert DESK in index.content.decode()
    assert reverse("admin:orders_order_changelist") not in index.content.decode()

    for url in (
        reverse("admin:orders_order_changelist"),
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[clerk.pk]),
        reverse("admin:payments_payment_changelist"),
        reverse("admin:core_auditevent_changelist"),
    ):
        assert client.get(url).status_code == 403, url


def test_staff_without_the_permission_get_403_and_no_link(desk_client):
    client, _ = desk_client(role=roles.COMPLIANCE)
    assert client.get(DESK).status_code == 403
    assert client.post(DESK, {"action": "scan", "token": "x"}).status_code == 403
    assert DESK not in client.get(reverse("admin:index")).content.decode()


def test_password_only_staff_are_sent_to_sign_in(ready):
    order, codes = ready()
    clerk = staff(roles.CLERK, order.store)
    client = Client()
    client.force_login(clerk)  # no second factor verified in this session

    for response in (client.get(DESK), scan(client, codes.qr_token)):
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))
    assert client.get(reverse("admin:login")).url.startswith(reverse("accounts:login"))
    order.refresh_from_db()
    assert order.status == Order.Status.READY_FOR_PICKUP


def test_shoppers_and_anonymous_visitors_are_sent_to_sign_in():
    for client in (Client(), Client()):
        assert client.get(DESK).status_code == 302
    shopper = Client()
    shopper.force_login(UserFactory())
    assert shopper.get(DESK).status_code == 302


def test_the_mask_keeps_one_letter_and_the_domain():
    assert desk.mask_email("alice@example.com") == "a***@example.com"
    assert desk.mask_email("broken") == "***"


@pytest.fixture
def paid_pickup(fake_gateway):
    """A paid pickup order of a new store, not yet ready."""
    order = order_awaiting_payment(fulfillment="pickup", email="sam.shopper@example.com")
    payments.pay_order(order=order, token="tok_ok", idempotency_key=f"key-{order.pk}", return_url="/r/")
    order.refresh_from_db()
    return order


def test_a_clerk_marks_a_paid_order_of_their_store_ready_and_the_customer_gets_the_code(
    paid_pickup, desk_client, mailoutbox, django_capture_on_commit_callbacks
):
    client, _ = desk_client(paid_pickup.store)
    page = client.get(DESK)
    assert f"Order {paid_pickup.number}" in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DESK, {"action": "ready", "order_id": paid_pickup.pk}, follow=True)

    paid_pickup.refresh_from_db()
    assert paid_pickup.status == Order.Status.READY_FOR_PICKUP
    assert "is ready; the customer was e-mailed the pickup code" in response.content.decode()
    codes = pickup.codes_for(paid_pickup)
    assert [m.to for m in mailoutbox] == [["sam.shopper@example.com"]] and codes.typed in mailoutbox[0].body


def test_a_clerk_cannot_mark_ready_an_order_of_another_store(paid_pickup, desk_client):
    client, _ = desk_client(StoreFactory())
    assert f"Order {paid_pickup.number}" not in client.get(DESK).content.decode()

    response = client.post(DESK, {"action": "ready", "order_id": paid_pickup.pk})

    assert response.status_code == 409
    paid_pickup.refresh_from_db()
    assert paid_pickup.status == Order.Status.PAID
