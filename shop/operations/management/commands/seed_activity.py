"""A few weeks of made-up activity for the security dashboard (demo and embedded mode only).

Everything goes through the shop's own writers where one exists: audit events through
core.audit.record (with its clock set back for the day being seeded, so the chain stays intact
and verifiable), counters through counters.bump. Orders, payments and requests are rows of the
demo shopper. Run once; a second run says it already did.
"""

import random
import secrets
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from shop.catalog.models import Store
from shop.core import audit
from shop.core.models import AuditEvent
from shop.operations.models import AuditVerification, Incident, IncidentEntry
from shop.operations.services import counters
from shop.orders.models import Order
from shop.payments.models import Payment, Refund
from shop.privacy.models import DataRequest, RetentionRun

MARKER = "demo.activity_seeded"


@contextmanager
def _audit_clock(at):
    """core.audit.record stamps events with timezone.now(); for a seeded day, that day.

    In UTC, as timezone.now() gives it: the hash covers the time's ISO form as stored."""
    at = at.astimezone(UTC)
    with mock.patch.object(audit, "timezone", mock.Mock(now=lambda: at)):
        yield


class Command(BaseCommand):
    help = "Add a few weeks of demo activity (sign-ins, payments, requests, incidents) for the dashboard."

    def add_arguments(self, parser):
        parser.add_argument("--weeks", type=int, default=4)

    def handle(self, *args, weeks, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_activity writes made-up events; it never runs in production.")
        if AuditEvent.objects.filter(action=MARKER).exists():
            self.stdout.write("Demo activity is already there.")
            return
        shopper = get_user_model().objects.filter(is_staff=False, is_active=True).order_by("pk").first()
        store = Store.objects.order_by("pk").first()
        if shopper is None or store is None:
            raise CommandError("Run seed_demo first: the activity belongs to the demo shopper and store.")
        rng = random.Random(16)  # the same demo every time
        today = timezone.localdate()
        with transaction.atomic():
            for offset in range(weeks * 7, 0, -1):
                day = today - timedelta(days=offset)
                noon = timezone.make_aware(datetime(day.year, day.month, day.day, 12))
                self._day(rng, day, noon, shopper, store)
            self._incidents(today)
            audit.record(MARKER, data={"weeks": weeks})
        self.stdout.write(self.style.SUCCESS(f"Demo activity added: {weeks} weeks for the security dashboard."))

    def _day(self, rng, day, noon, shopper, store):
        weekend = day.weekday() >= 5
        with _audit_clock(noon):
            for _ in range(rng.randint(8, 14) + (6 if weekend else 0)):
                audit.record("login.succeeded", actor=shopper, subject=shopper, data={"demo": True})
            for _ in range(rng.randint(1, 5)):
                audit.record("login.failed", data={"demo": True, "step": "password"})
            if rng.random() < 0.2:
                audit.record("login.locked_out", data={"demo": True, "scope": "account"})
        served = rng.randint(5, 12)
        counters.bump(name=counters.CHALLENGE_SERVED, by=served, day=day)
        counters.bump(name=counters.CHALLENGE_FAILED, by=rng.randint(0, 2), day=day)
        if rng.random() < 0.3:
            counters.bump(name=counters.CSP_REPORTED, by=rng.randint(1, 3), day=day)
        if rng.random() < 0.15:
            counters.bump(name=counters.CARD_TESTING_REFUSED, by=rng.randint(2, 9), day=day)
        for _ in range(rng.randint(2, 6)):
            self._payment(rng, noon, shopper, store)
        if rng.random() < 0.25:
            received = noon - timedelta(hours=3)
            finished = received + timedelta(days=rng.choice([1, 2, 5]))
            request = DataRequest.objects.create(
                subject=shopper,
                subject_ref=shopper.pk,
                kind=DataRequest.Kind.EXPORT,
                status=DataRequest.Status.DONE if finished < timezone.now() else DataRequest.Status.PENDING,
                due_at=received + timedelta(days=30),
                requested_by=shopper,
            )
            DataRequest.objects.filter(pk=request.pk).update(
                received_at=received, finished_at=finished if finished < timezone.now() else None
            )
        RetentionRun.objects.create(
            policy="anonymous carts",
            rows_affected=rng.randint(0, 40),
            duration=timedelta(seconds=1),
            at=noon - timedelta(hours=9),
        )
        AuditVerification.objects.create(
            at=noon - timedelta(hours=8), checked=AuditEvent.objects.count(), intact=True, duration=timedelta(seconds=2)
        )

    def _payment(self, rng, at, shopper, store):
        total = rng.choice([1290, 2490, 4990, 8900])
        declined = rng.random() < 0.12
        order = Order.objects.create(
            user=shopper,
            email=shopper.email,
            status=Order.Status.CANCELLED if declined else Order.Status.SHIPPED,
            fulfillment=Order.Fulfillment.DELIVERY,
            store=store,
            shipping_name=shopper.first_name or "Demo",
            shipping_street="Demo street 1",
            shipping_postal_code="10115",
            shipping_city="Berlin",
            shipping_country="DE",
            subtotal_minor=total,
            delivery_fee_minor=0,
            total_minor=total,
            currency=settings.SHOP_CURRENCY,
        )
        three_ds = rng.random() < 0.2
        payment = Payment.objects.create(
            order=order,
            gateway="sandbox",
            reference=f"demo_{secrets.token_hex(6)}",
            idempotency_key=secrets.token_hex(16),
            amount_minor=total,
            currency=order.currency,
            status=Payment.Status.DECLINED if declined else Payment.Status.CAPTURED,
            captured_minor=0 if declined else total,
            decline_code="generic_decline" if declined else "",
        )
        if three_ds:
            with _audit_clock(at):
                audit.record("payment.requires_action", subject=payment, data={"order_id": order.pk, "demo": True})
        if not declined and rng.random() < 0.08:
            Refund.objects.create(payment=payment, amount_minor=total, idempotency_key=secrets.token_hex(16))
            Payment.objects.filter(pk=payment.pk).update(refunded_minor=total, status=Payment.Status.REFUNDED)
            Refund.objects.filter(payment=payment).update(created_at=at + timedelta(hours=2))
        Order.objects.filter(pk=order.pk).update(created_at=at)
        Payment.objects.filter(pk=payment.pk).update(created_at=at)

    def _incidents(self, today):
        now = timezone.now()
        closed = Incident.objects.create(
            reference=f"INC-{today:%Y}-DEMO01",
            title="Credential-stuffing wave against sign-in",
            category=Incident.Category.ACCOUNT_TAKEOVER,
            severity=Incident.Severity.MEDIUM,
            status=Incident.Status.CLOSED,
            description="Lockouts rose for two days; no account was taken over. Address limit lowered.",
            detected_at=now - timedelta(days=20),
            became_aware_at=now - timedelta(days=20),
            closed_at=now - timedelta(days=18),
        )
        breach = Incident.objects.create(
            reference=f"INC-{today:%Y}-DEMO02",
            title="Order confirmation sent to the wrong address",
            category=Incident.Category.CONFIDENTIALITY,
            severity=Incident.Severity.LOW,
            status=Incident.Status.CLOSED,
            description="One confirmation e-mail went to a mistyped address; the recipient deleted it.",
            detected_at=now - timedelta(days=12, hours=4),
            became_aware_at=now - timedelta(days=12),
            is_breach=True,
            affected_data=["contact", "orders"],
            authority_notified_at=now - timedelta(days=11),
            authority_reference="DEMO-1",
            closed_at=now - timedelta(days=10),
        )
        for incident in (closed, breach):
            IncidentEntry.objects.create(incident=incident, at=incident.became_aware_at, text="Incident filed (demo).")
