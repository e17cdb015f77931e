"""The review desk in the admin: who sees it, approve and reject, lists, labels from every source."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from shop.accounts import roles
from shop.core.models import AuditEvent
from shop.orders import services as orders
from shop.orders.models import Order
from shop.payments import services as payments
from shop.payments.gateways.sandbox.gateway import sign_event
from shop.payments.models import Payment
from shop.risk import selectors
from shop.risk.models import Label, ListEntry, Review
from tests.factories import UserFactory

from .conftest import analyst, pay

pytestmark = pytest.mark.django_db

QUEUE = "/admin/risk/review/"


@pytest.fixture
def everything_held(settings):
    settings.RISK_REVIEW_FROM = 0
    settings.RISK_BLOCK_FROM = 101


@pytest.fixture
def desk(verified_login):
    def open_as(user):
        client = Client()
        verified_login(client, user)
        return client

    return open_as


def review_url(review):
    return reverse("admin:risk_review_change", args=[review.pk])


def test_the_queue_lists_held_orders_oldest_first_for_fraud_analysts_only(checkout, gateway, everything_held, desk):
    first, second = checkout(), checkout()
    fraud_desk = desk(analyst())

    page = fraud_desk.get(QUEUE)

    assert page.status_code == 200
    assert page.text.index(first.number) < page.text.index(second.number)
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    assert desk(clerk).get(QUEUE).status_code == 403


def test_a_review_page_shows_the_reasons_and_the_customer_history(checkout, gateway, everything_held, desk):
    order = checkout(email="guest.buyer@example.com")
    page = desk(analyst()).get(review_url(Review.objects.get(order_id=order.pk)))

    assert page.status_code == 200
    assert "Guest checkout: no account history" in page.text
    assert order.number in page.text
    assert "Customer history" in page.text


def test_approving_releases_the_order_and_captures_a_held_delivery_payment(checkout, gateway, everything_held, desk):
    order = checkout()
    assert pay(order).status == Payment.Status.AUTHORIZED
    review = Review.objects.get(order_id=order.pk)
    reviewer = analyst()

    response = desk(reviewer).post(review_url(review), {"decision": "approve", "note": "known school"})

    assert response.status_code == 302
    assert not selectors.is_held(order_id=order.pk)
    assert Payment.objects.get(order=order).status == Payment.Status.CAPTURED
    assert Label.objects.get(order_id=order.pk, source="review").is_fraud is False
    event = AuditEvent.objects.get(action="risk.review_approved")
    assert event.actor_id == reviewer.pk


def test_rejecting_cancels_voids_and_blocks_the_email_for_the_next_try(checkout, gateway, everything_held, desk):
    order = checkout(email="thief@example.com")
    pay(order)
    review = Review.objects.get(order_id=order.pk)

    response = desk(analyst()).post(review_url(review), {"decision": "reject", "block": ["email", "device"]})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert Payment.objects.get(order=order).status == Payment.Status.VOIDED
    assert Label.objects.get(order_id=order.pk).is_fraud is True
    assert set(ListEntry.objects.values_list("kind", flat=True)) == {"email", "device"}
    with pytest.raises(orders.OrderError, match="could not accept"):
        checkout(email="thief@example.com")


def test_a_review_cannot_be_decided_twice(checkout, gateway, everything_held, desk):
    review = Review.objects.get(order_id=checkout().pk)
    client = desk(analyst())
    client.post(review_url(review), {"decision": "approve"})

    again = client.post(review_url(review), {"decision": "reject"})

    assert again.status_code == 409
    assert Review.objects.get(pk=review.pk).status == Review.Status.APPROVED


def test_staff_who_may_only_read_cannot_decide(checkout, gateway, everything_held, desk):
    review = Review.objects.get(order_id=checkout().pk)
    reader = UserFactory(is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_review"))

    assert desk(reader).post(review_url(review), {"decision": "approve"}).status_code == 403
    assert Review.objects.get(pk=review.pk).status == Review.Status.PENDING


def test_a_sandbox_dispute_webhook_labels_the_order_as_fraud(checkout, gateway, client, monkeypatch):
    order = checkout()
    payment = pay(order)
    monkeypatch.undo()  # the real sandbox verifies the webhook's signature
    body, header = sign_event({"id": "evt_dispute_1", "type": "payment.disputed", "reference": payment.reference})

    response = client.post(
        "/payments/webhooks/sandbox/", data=body, content_type="application/json", headers={"Sandbox-Signature": header}
    )

    assert response.status_code == 200
    assert Label.objects.get(order_id=order.pk, source="dispute").is_fraud is True


def test_a_refund_a_manager_marks_as_fraud_becomes_a_label(checkout, gateway):
    order = checkout()
    payment = pay(order)
    manager = UserFactory(is_staff=True)

    payments.refund(payment=payment, amount_minor=payment.amount_minor, actor=manager, idempotency_key="r1", fraud=True)

    assert Label.objects.get(order_id=order.pk, source="refund").is_fraud is True
