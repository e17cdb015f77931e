"""Place a demo fraud pattern for the review desk (embedded mode only).

A reseller bot: a guest with a disposable, machine-made address buys out the most expensive
product from a fresh device, and pays with the sandbox's success card. The risk engine holds the
order; a fraud analyst (fraud@example.com) finds it under Fraud risk → Reviews with its reasons.
`--history` also writes 120 days of demo labels (clearly marked) and trains the model once, so
the model page has a version to show.
"""

import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from shop.catalog.models import Stock
from shop.orders import services
from shop.payments import services as payments
from shop.payments.gateways.sandbox.models import SandboxToken
from shop.risk import interface as risk
from shop.risk.models import Review

DEMO_EMAIL = "deals4u8812@mailinator.com"


class Command(BaseCommand):
    help = "Place a demo fraud pattern that lands in the review desk (and optionally demo labels + a model)."

    def add_arguments(self, parser):
        parser.add_argument("--history", action="store_true", help="also write demo labels and train the model")

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_fraud_demo places fake orders; it never runs in production.")
        if Review.objects.filter(status=Review.Status.PENDING).exists():
            self.stdout.write("A held order already waits in the review desk; nothing placed.")
        else:
            self._place()
        if options["history"]:
            self._history()

    def _place(self):
        stock = (
            Stock.objects.filter(quantity__gte=5, store__ships_orders=True, product__is_active=True)
            .select_related("product")
            .order_by("-product__price_minor")
            .first()
        )
        if stock is None:
            raise CommandError("No product with 5 units in a shipping store: run seed_demo first.")
        cart = services.open_cart()
        services.add_to_cart(cart=cart, product=stock.product, quantity=min(stock.quantity, 10))
        client = risk.Client(
            session_key=secrets.token_hex(16), address="203.0.113.66", device_id=secrets.token_urlsafe(16)
        )
        order = services.place_order(
            cart=cart,
            email=DEMO_EMAIL,
            fulfillment="delivery",
            shipping=services.ShippingAddress(
                name="R. Seller", street="Lagerweg 3", postal_code="12345", city="Berlin", country="DE"
            ),
            client=client,
        )
        token = SandboxToken.objects.create(
            outcome=SandboxToken.Outcome.SUCCESS,
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=timezone.now().year + 3,
            fingerprint=secrets.token_hex(16),
        )
        payments.pay_order(
            order=order,
            token=token.token,
            idempotency_key=payments.new_idempotency_key(),
            return_url=f"/orders/{order.number}/",
            client=client,
        )
        held = risk.is_held(order_id=order.pk)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo fraud pattern placed: order {order.number}, " + ("held for review." if held else "not held.")
            )
        )

    def _history(self):
        from shop.risk import training
        from shop.risk.features import FEATURES
        from shop.risk.models import Label

        rng = random.Random(14)
        now = timezone.now()
        rows = []
        for n in range(1500):
            fraud = rng.random() < 0.06
            features = dict.fromkeys(FEATURES, 0.0)
            # Demo patterns the rules barely weigh (a few days old accounts, mid-size totals) but a model learns.
            features.update(
                is_guest=float(rng.random() < 0.3),
                account_age_days=rng.uniform(1, 6) if fraud else rng.uniform(3, 900),
                total_minor=rng.uniform(12000, 40000) if fraud else rng.uniform(1500, 16000),
                high_resale_share=rng.uniform(0.3, 0.7) if fraud else rng.uniform(0, 0.5),
                no_mfa=1.0 if fraud else float(rng.random() < 0.7),
            )
            rows.append(
                Label(
                    order_id=10_000_000 + n,  # demo ids: no real order has them
                    source=Label.Source.REVIEW if fraud else Label.Source.COMPLETED,
                    is_fraud=fraud,
                    features=features,
                    scored_at=now - timedelta(days=120) + timedelta(days=120 * n / 1500),
                )
            )
        Label.objects.bulk_create(rows, ignore_conflicts=True)
        outcome = training.train()
        if outcome.get("trained"):
            verdict = "promoted" if outcome["promoted"] else "not promoted"
            self.stdout.write(
                self.style.SUCCESS(f"Trained a {outcome['kind']} model ({verdict}); see Fraud risk → Model versions.")
            )
        else:
            self.stdout.write(outcome["why"])
