"""Refunds from the admin: Shop managers only, OTP-verified, never more than captured, once per key."""

from functools import partial

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from shop.accounts import roles
from shop.core.models import AuditEvent
from shop.payments import services
from shop.payments.models import Payment, Refund
from tests.concurrency import run_at_once
from tests.factories import UserFactory
from tests.payments.fakes import install_fake_gateway, order_awaiting_payment


@pytest.fixture
def fake_gateway(monkeypatch):
    return install_fake_gateway(monkeypatch)


def staff(role):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def captured_payment(*, price_minor=5000, email="buyer@example.com"):
    """A delivery order of price_minor (free delivery from 50.00) paid and captured."""
    order = order_awaiting_payment(fulfillment="delivery", price_minor=price_minor, email=email)
    payment = services.pay_order(order=order, token="tok_ok", idempotency_key=f"pay-{order.pk}", return_url="/")
    assert payment.status == Payment.Status.CAPTURED
    return payment


def refund_url(payment):
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def post_refund(client, payment, amount, key=None):
    return client.post(
        refund_url(payment), {"amount": amount, "idempotency_key": key or services.new_idempotency_key()}
    )


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def manager(client, verified_login):
    user = staff(roles.MANAGER)
    verified_login(client, user)
    return user


# --- The refund page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manager_refunds_a_payment_in_full(client, manager, fake_gateway, django_capture_on_commit_callbacks):
    payment = captured_payment(email="buyer@example.com")
    page = client.get(refund_url(payment))
    assert page.status_code == 200
    key = page.context["form"].initial["idempotency_key"]
    assert f'value="{key}"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = post_refund(client, payment, "50.00", key=key)

    assert response.status_code == 302
    assert response.url == reverse("admin:payments_payment_change", args=[payment.pk])
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert payment.refunded_minor == payment.captured_minor == 5000
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.created_by, refund.idempotency_key) == (5000, manager, key)
    assert fake_gateway.count("refund") == 1
    audit = AuditEvent.objects.get(action="payment.refunded")
    assert audit.actor_id == manager.pk
    assert audit.data["amount_minor"] == 5000
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["buyer@example.com"]
    assert payment.order.number in mail.outbox[0].subject
    assert "50.00" in mail.outbox[0].body
    followed = client.get(response.url)
    assert any("Refunded €50.00" in m for m in messages_of(followed))


@pytest.mark.django_db
def test_partial_refunds_add_up_to_the_captured_amount(client, manager, fake_gateway):
    payment = captured_payment()

    assert post_refund(client, payment, "20.00").status_code == 302
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_minor) == (Payment.Status.CAPTURED, 2000)
    page = client.get(refund_url(payment))
    assert "amount" not in page.context["form"].initial  # starts empty: the manager types the amount
    assert "€30.00" in page.text  # what is still refundable is shown next to it

    assert post_refund(client, payment, "30").status_code == 302
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_minor) == (Payment.Status.REFUNDED, 5000)
    assert sorted(Refund.objects.values_list("amount_minor", flat=True)) == [2000, 3000]


@pytest.mark.django_db
def test_a_refund_beyond_what_is_left_is_refused_and_changes_nothing(client, manager, fake_gateway):
    payment = captured_payment()
    post_refund(client, payment, "40.00")

    response = post_refund(client, payment, "20.00")

    assert response.status_code == 409
    assert "At most €10.00 can still be refunded." in messages_of(response)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_minor) == (Payment.Status.CAPTURED, 4000)
    assert Refund.objects.count() == 1
    assert fake_gateway.count("refund") == 1
    assert AuditEvent.objects.filter(action="payment.refunded").count() == 1


@pytest.mark.django_db
def test_a_refund_of_more_than_captured_is_refused(client, manager, fake_gateway):
    payment = captured_payment()

    response = post_refund(client, payment, "50.01")

    assert response.status_code == 409
    assert Refund.objects.count() == 0
    assert fake_gateway.count("refund") == 0


@pytest.mark.django_db
def test_the_same_form_posted_twice_refunds_once(client, manager, fake_gateway):
    payment = captured_payment()
    key = services.new_idempotency_key()

    first = post_refund(client, payment, "10.00", key=key)
    second = post_refund(client, payment, "10.00", key=key)

    assert (first.status_code, second.status_code) == (302, 302)
    assert Refund.objects.count() == 1
    payment.refresh_from_db()
    assert payment.refunded_minor == 1000
    assert fake_gateway.count("refund") == 1
    assert AuditEvent.objects.filter(action="payment.refunded").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["0", "-5", "abc", "10.001", "", "10,5,0", "1.2.3"])
def test_an_invalid_amount_is_a_form_error(client, manager, fake_gateway, amount):
    payment = captured_payment()

    response = post_refund(client, payment, amount)

    assert response.status_code == 400
    assert response.context["form"].errors["amount"]
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_an_authorized_payment_cannot_be_refunded(client, manager, fake_gateway):
    order = order_awaiting_payment(fulfillment="pickup")
    payment = services.pay_order(order=order, token="tok_ok", idempotency_key="pickup", return_url="/")

    page = client.get(refund_url(payment))
    response = post_refund(client, payment, "1.00")

    assert "cannot be refunded" in page.content.decode()
    assert response.status_code == 409
    assert any("Only captured payments can be refunded" in m for m in messages_of(response))
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_a_refund_the_gateway_refuses_changes_nothing(client, manager, fake_gateway):
    payment = captured_payment()
    fake_gateway.refund_succeeds = False

    response = post_refund(client, payment, "10.00")

    assert response.status_code == 409
    assert any("refused the refund" in m for m in messages_of(response))
    payment.refresh_from_db()
    assert payment.refunded_minor == 0
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_a_refund_of_an_unknown_payment_is_not_found(client, manager):
    assert client.get(reverse("admin:payments_payment_refund", args=[999999])).status_code == 404


# --- Who may refund ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [roles.CLERK, roles.COMPLIANCE])
def test_clerks_and_compliance_officers_cannot_open_the_refund_page(client, verified_login, fake_gateway, role):
    payment = captured_payment()
    verified_login(client, staff(role))

    assert client.get(refund_url(payment)).status_code == 403
    assert post_refund(client, payment, "10.00").status_code == 403
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_a_manager_without_a_verified_second_factor_is_sent_to_sign_in(client, fake_gateway):
    payment = captured_payment()
    client.force_login(staff(roles.MANAGER))  # password only, no OTP verification in this session

    response = post_refund(client, payment, "10.00")

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))  # which sends on to the shop's two-step sign-in
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_a_shopper_cannot_reach_the_refund_page(client, fake_gateway):
    payment = captured_payment()
    client.force_login(UserFactory())

    response = post_refund(client, payment, "10.00")

    assert response.status_code == 302
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_managers_see_payments_and_the_refund_link_clerks_do_not(client, manager, fake_gateway, verified_login):
    payment = captured_payment()

    listing = client.get(reverse("admin:payments_payment_changelist"))
    detail = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    found = client.get(reverse("admin:payments_payment_changelist"), {"q": payment.order.number})

    assert listing.status_code == 200
    assert payment.order.number in listing.content.decode()
    assert "Visa •••• 4242" in listing.content.decode()
    assert refund_url(payment) in listing.content.decode()
    assert refund_url(payment) in detail.content.decode()
    assert found.context["cl"].result_count == 1
    for name in ("refund", "webhookevent", "paymentmethod"):
        assert client.get(reverse(f"admin:payments_{name}_changelist")).status_code == 200

    clerk_client = type(client)()
    verified_login(clerk_client, staff(roles.CLERK))
    assert clerk_client.get(reverse("admin:payments_payment_changelist")).status_code == 403


@pytest.mark.django_db
def test_the_admin_offers_no_way_to_change_a_payment(client, manager, fake_gateway):
    payment = captured_payment()

    response = client.post(reverse("admin:payments_payment_change", args=[payment.pk]), {"status": "refunded"})

    assert response.status_code == 403
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CAPTURED


@pytest.mark.django_db
def test_the_saved_card_token_is_not_shown_in_the_admin(client, manager, fake_gateway):
    from shop.payments.models import PaymentMethod

    method = PaymentMethod.objects.create(
        user=UserFactory(),
        gateway="sandbox",
        token="pm_secret_token",
        brand="Visa",
        last4="4242",
        exp_month=1,
        exp_year=2031,
        fingerprint="fp",
    )

    response = client.get(reverse("admin:payments_paymentmethod_change", args=[method.pk]))

    assert response.status_code == 200
    assert "pm_secret_token" not in response.content.decode()


# --- The service under concurrency -----------------------------------------------------------


@pytest.mark.django_db
def test_the_same_key_twice_gives_one_refund(fake_gateway):
    payment = captured_payment()
    actor = staff(roles.MANAGER)

    first = services.refund(payment=payment, amount_minor=1000, actor=actor, idempotency_key="k")
    second = services.refund(payment=payment, amount_minor=1000, actor=actor, idempotency_key="k")

    assert first.pk == second.pk
    assert Refund.objects.count() == 1
    assert Payment.objects.get().refunded_minor == 1000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_of_60_percent_each_let_exactly_one_through(fake_gateway):
    payment = captured_payment()
    actor = staff(roles.MANAGER)
    refund = partial(services.refund, payment=payment, amount_minor=3000, actor=actor)

    results = run_at_once([partial(refund, idempotency_key=f"click-{n}") for n in range(5)])

    assert sum(isinstance(r, Refund) for r in results) == 1, results
    assert sum(isinstance(r, services.PaymentError) for r in results) == 4, results
    payment.refresh_from_db()
    assert payment.refunded_minor == 3000
    assert Refund.objects.count() == 1
    assert fake_gateway.count("refund") == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_the_same_refund_form_refund_once(fake_gateway):
    payment = captured_payment()
    actor = staff(roles.MANAGER)

    results = run_at_once(
        [partial(services.refund, payment=payment, amount_minor=1000, actor=actor, idempotency_key="same")] * 4
    )

    assert all(isinstance(r, Refund) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Payment.objects.get().refunded_minor == 1000
    assert fake_gateway.count("refund") == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("typed", "minor"), [("10,50", 1050), ("10.50", 1050), ("€ 7,5", 750), ("1.234,50", 123450)])
def test_the_refund_amount_is_read_the_way_people_type_it(client, manager, fake_gateway, typed, minor):
    payment = captured_payment(price_minor=200000) if minor > 5000 else captured_payment()
    assert post_refund(client, payment, typed).status_code == 302
    assert Refund.objects.get().amount_minor == minor
