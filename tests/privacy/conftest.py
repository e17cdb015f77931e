import hashlib
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.accounts.models import BackupCodeDevice, UserSession
from shop.operations.models import Incident, SubjectNotice, SubjectNotification
from shop.orders.models import Cart, CartLine, Order, OrderReturn
from shop.payments.gateways.sandbox.models import SandboxToken
from shop.payments.models import PaymentMethod
from shop.risk.models import ListEntry, Review, RiskAssessment
from tests.authenticator import Authenticator
from tests.authenticator import register as register_passkey
from tests.factories import ProductFactory, StoreFactory, UserFactory


def make_subject(tag: str, *, order_status=Order.Status.DELIVERED):
    """A shopper with a row in every registered kind of personal data."""
    user = UserFactory(email=f"{tag}.person@example.com", first_name=f"{tag}first", last_name=f"{tag}last")
    UserSession.objects.create(user=user, session_key=f"{tag}-session".ljust(32, "x"), user_agent=f"{tag}Browser/1.0")
    TOTPDevice.objects.create(user=user, name=f"{tag} phone", confirmed=True)
    BackupCodeDevice.objects.create(user=user, name="backup", confirmed=True)
    register_passkey(user, Authenticator(), name=f"{tag} passkey")  # with its WebAuthn user handle
    cart = Cart.objects.create(user=user)
    CartLine.objects.create(cart=cart, product=ProductFactory(), quantity=2)
    order = Order.objects.create(
        user=user,
        email=user.email,
        status=order_status,
        fulfillment=Order.Fulfillment.DELIVERY,
        store=StoreFactory(),
        shipping_name=f"{tag}first {tag}last",
        shipping_street=f"{tag}strasse 7",
        shipping_postal_code="10999",
        shipping_city=f"{tag}burg",
        shipping_country="DE",
        subtotal_minor=2000,
        delivery_fee_minor=490,
        total_minor=2490,
        currency="EUR",
    )
    # A partial return the shopper described in their own words (a free-text note).
    OrderReturn.objects.create(order=order, refunded_minor=0, note=f"{tag}first says the lid was cracked")
    token = SandboxToken.objects.create(
        outcome="success",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        fingerprint=hashlib.sha256(tag.encode()).hexdigest(),
        reusable=True,
    )
    PaymentMethod.objects.create(
        user=user,
        gateway="sandbox",
        token=token.token,
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        fingerprint=hashlib.sha256(tag.encode()).hexdigest(),
    )
    AccessFailureLog.objects.create(
        username=user.email, ip_address="203.0.113.7", user_agent=f"{tag}Browser/1.0", http_accept="*/*", path_info="/"
    )
    AccessLog.objects.create(
        username=user.email, ip_address="203.0.113.7", user_agent=f"{tag}Browser/1.0", http_accept="*/*", path_info="/"
    )
    AccessAttempt.objects.create(
        username=user.email,
        ip_address="203.0.113.7",
        user_agent=f"{tag}Browser/1.0",
        http_accept="*/*",
        path_info="/account/login/",
        get_data="",
        post_data="",
        failures_since_start=1,
        attempt_time=timezone.now(),
    )
    assessment = RiskAssessment.objects.create(
        stage="checkout",
        order_id=order.pk,
        order_number=order.number,
        user=user,
        score=70,
        action="review",
        reasons=[{"code": "guest", "text": "Guest checkout", "points": 8}],
        identities={"email": hashlib.sha256(user.email.encode()).hexdigest()},
        shipping_hash=hashlib.sha256(tag.encode()).hexdigest(),
    )
    Review.objects.create(order_id=order.pk, order_number=order.number, user=user, assessment=assessment)
    ListEntry.objects.create(
        kind="email",
        verdict="block",
        value_hash=hashlib.sha256(user.email.encode()).hexdigest(),
        hint="a***@example.com",
        reason="chargeback",
        expires_at=timezone.now() + timedelta(days=30),
        user=user,
    )
    # Told about a personal-data breach (shop/operations).
    incident = Incident.objects.create(
        reference=f"INC-TEST-{user.pk}",
        title="breach",
        category="confidentiality",
        severity="low",
        description="-",
        detected_at=timezone.now(),
        became_aware_at=timezone.now(),
        is_breach=True,
    )
    notification = SubjectNotification.objects.create(incident=incident, subject_line="s", body="b")
    SubjectNotice.objects.create(notification=notification, user=user, user_ref=user.pk)
    return user, order


@pytest.fixture
def subject(db):
    return make_subject("zelda")


@pytest.fixture
def other(db):
    return make_subject("yorick")
