"""The shopper's side of click & collect (order page, new codes, checkout) and the admin's
"Mark ready for pickup" action."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.test import Client
from django.urls import reverse

from shop.accounts import roles
from shop.orders import guest_links, pickup
from shop.orders.models import Order
from shop.payments import services as payments
from tests.factories import StockFactory, StoreFactory, UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def staff(role, *stores):
    roles.sync_roles()
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for store in stores:
        store.staff.add(user)
    return user


def paid(order):
    payments.pay_order(order=order, token="tok_ok", idempotency_key=f"k-{order.pk}", return_url="/")
    order.refresh_from_db()
    return order


@pytest.fixture
def owner():
    return UserFactory(email="owner@example.com")


@pytest.fixture
def ready_order(fake_gateway, owner):
    order = paid(order_awaiting_payment(fulfillment="pickup", user=owner))
    codes = pickup.mark_ready(order=order, actor=staff(roles.MANAGER))
    order.refresh_from_db()
    return order, codes


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- The owner's order page -------------------------------------------------------------------


def test_the_owner_sees_store_deadline_code_and_qr_never_cached(client, owner, ready_order):
    order, codes = ready_order
    client.force_login(owner)
    page = client.get(order.get_absolute_url())
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    text = page.text
    assert codes.typed in text and order.store.name in text and order.store.street in text
    assert 'src="data:image/svg+xml;base64,' in text
    assert codes.qr_token not in text  # only inside the QR image
    assert "Get new codes" in text and reverse("orders:pickup_reissue", args=[order.number]) in text


def test_another_user_sees_a_404_and_cannot_reissue(client, ready_order):
    order, codes = ready_order
    client.force_login(UserFactory())
    assert client.get(order.get_absolute_url()).status_code == 404
    assert client.post(reverse("orders:pickup_reissue", args=[order.number])).status_code == 404
    assert pickup.codes_for(order) == codes


def test_the_owner_gets_new_codes_and_the_old_ones_stop_working(client, owner, ready_order):
    order, old = ready_order
    client.force_login(owner)
    response = client.post(reverse("orders:pickup_reissue", args=[order.number]), follow=True)
    new = pickup.codes_for(order)
    assert new is not None and new != old
    assert new.typed in response.text and old.typed not in response.text
    assert "The old ones no longer work" in " ".join(messages_of(response))
    clerk = staff(roles.CLERK, order.store)
    with pytest.raises(pickup.PickupError, match=pickup.NEUTRAL):
        pickup.find_by_code(number=order.number, code=old.typed, clerk=clerk)


def test_new_codes_need_a_post_with_a_csrf_token(owner, ready_order):
    order, codes = ready_order
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = reverse("orders:pickup_reissue", args=[order.number])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert pickup.codes_for(order) == codes


def test_a_guest_sees_the_codes_through_the_emailed_link_and_can_renew_them(client, fake_gateway):
    order = paid(order_awaiting_payment(fulfillment="pickup", email="guest@example.com"))
    codes = pickup.mark_ready(order=order, actor=staff(roles.MANAGER))
    link = guest_links.url_for(order)
    page = client.get(link, follow=True)
    assert page.status_code == 200 and codes.typed in page.text and "no-store" in page["Cache-Control"]
    assert page.request["PATH_INFO"] == order.get_absolute_url()  # the token left the address bar
    token = link.rstrip("/").rsplit("/", 1)[-1]
    response = client.post(reverse("orders:guest_pickup_reissue", args=[token]))
    assert response.status_code == 302 and response.url == order.get_absolute_url()
    assert pickup.codes_for(order) != codes


def test_after_the_hand_over_the_page_says_collected_and_shows_no_code(client, owner, ready_order):
    order, codes = ready_order
    pickup.hand_over(order_id=order.pk, clerk=staff(roles.CLERK, order.store))
    client.force_login(owner)
    page = client.get(order.get_absolute_url())
    assert "Collected" in page.text and codes.typed not in page.text and "Get new codes" not in page.text


def test_a_paid_order_not_yet_ready_shows_no_code(client, owner, fake_gateway):
    order = paid(order_awaiting_payment(fulfillment="pickup", user=owner))
    client.force_login(owner)
    page = client.get(order.get_absolute_url())
    assert page.status_code == 200 and "Get new codes" not in page.text


# --- Checkout: someone else collects --------------------------------------------------------------


def test_checkout_keeps_the_alternate_collectors_name_for_pickup_only(client):
    store = StoreFactory(name="Mitte")
    stock = StockFactory(store=store, quantity=5)
    client.post(reverse("orders:cart_add", args=[stock.product.slug]), {"quantity": 1})
    response = client.post(
        reverse("orders:checkout"),
        {
            "email": "a@example.com",
            "fulfillment": "pickup",
            "pickup_store": store.pk,
            "alternate_collector": "  Grace   Hopper ",
        },
    )
    assert response.status_code == 302
    assert Order.objects.get().alternate_collector == "Grace Hopper"


def test_the_checkout_page_offers_the_alternate_collector_field(client):
    stock = StockFactory(quantity=5)
    client.post(reverse("orders:cart_add", args=[stock.product.slug]), {"quantity": 1})
    page = client.get(reverse("orders:checkout"))
    assert 'name="alternate_collector"' in page.text and "Someone else collects" in page.text


# --- Admin: Mark ready for pickup -----------------------------------------------------------------


def run_action(client, orders, action="mark_ready_for_pickup"):
    return client.post(
        reverse("admin:orders_order_changelist"),
        {"action": action, "_selected_action": [o.pk for o in orders]},
        follow=True,
    )


def test_a_manager_marks_orders_ready_in_bulk_and_others_get_a_clear_message(
    client, verified_login, fake_gateway, django_capture_on_commit_callbacks
):
    manager = staff(roles.MANAGER)
    verified_login(client, manager)
    first = paid(order_awaiting_payment(fulfillment="pickup", email="one@example.com"))
    second = paid(order_awaiting_payment(fulfillment="pickup", email="two@example.com"))
    delivery = paid(order_awaiting_payment(fulfillment="delivery"))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, [first, second, delivery])
    assert response.status_code == 200
    notes = " ".join(messages_of(response))
    assert "Marked 2 order(s) ready for pickup" in notes and "is for delivery" in notes
    for order in (first, second):
        order.refresh_from_db()
        assert order.status == Order.Status.READY_FOR_PICKUP and order.pickup_deadline is not None
    assert sorted(m.to[0] for m in mail.outbox) == ["one@example.com", "two@example.com"]
    assert all("ready for pickup" in m.subject for m in mail.outbox)


def test_store_staff_mark_ready_only_in_their_store(client, verified_login, fake_gateway):
    mine = paid(order_awaiting_payment(fulfillment="pickup"))
    theirs = paid(order_awaiting_payment(fulfillment="pickup"))
    user = staff(roles.CLERK, mine.store)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="change_order"))
    verified_login(client, user)
    response = run_action(client, [mine, theirs])
    assert "cannot mark orders of" in " ".join(messages_of(response))
    assert Order.objects.get(pk=mine.pk).status == Order.Status.READY_FOR_PICKUP
    assert Order.objects.get(pk=theirs.pk).status == Order.Status.PAID


def test_a_clerk_without_the_change_permission_has_no_such_action(client, verified_login, fake_gateway):
    order = paid(order_awaiting_payment(fulfillment="pickup"))
    verified_login(client, staff(roles.CLERK, order.store))
    run_action(client, [order])
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
