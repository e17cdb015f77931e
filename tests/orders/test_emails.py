"""What an order's e-mails carry from the visitor: escaped in HTML, stripped of control characters
and bounded in plain text. No mail relay: nothing goes to a typed address before payment."""

import pytest
from django.core import mail

from shop.core.templatetags.mailtext import clean
from shop.orders import emails, services
from shop.orders.models import Order
from tests.payments.fakes import order_awaiting_payment

pytestmark = pytest.mark.django_db

HOSTILE = (
    "Eve\r\n\r\nURGENT: your account is locked, log in at http://evil.example\u202e<script>alert(1)</script>"
    + "x" * 500
)


def test_the_filter_strips_controls_and_bounds_the_length():
    text = clean(HOSTILE, 200)
    assert "\n" not in text and "\r" not in text and "\u202e" not in text
    assert len(text) == 200 and text.endswith("…")
    assert clean("  Ada \t Lovelace ") == "Ada Lovelace"


def test_a_visitors_name_cannot_write_the_receipt(django_capture_on_commit_callbacks):
    order = order_awaiting_payment()
    Order.objects.filter(pk=order.pk).update(shipping_name=HOSTILE[:200], shipping_city="Berlin\nCall +49 000")
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_order_paid(order=Order.objects.get(pk=order.pk))

    [message] = mail.outbox
    name_line = next(line for line in message.body.splitlines() if line.startswith("Eve"))
    assert len(name_line) <= 200 and "\u202e" not in message.body
    assert "\nURGENT" not in message.body and "\nCall +49" not in message.body
    html, _ = message.alternatives[0]
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_an_unpaid_guest_order_mails_nobody_and_a_receipt_goes_once():
    order = order_awaiting_payment()
    assert emails.recipient(order, "expired") is None
    assert emails.send_notice(order_id=order.pk, kind="receipt") is False  # not paid: no receipt
    assert mail.outbox == []
