"""Simulated weeks of shop traffic through the real risk scoring code, with nightly retraining.

    .venv/bin/python bench/fraud/simulate.py [--weeks 12] [--orders-per-day 250] [--seed 1]

Legitimate shoppers (returning customers, new accounts, guests, gifts to new addresses, office
bulk orders, travellers' foreign cards, a declined card now and then) and five documented fraud
scenarios (card testing, a stolen card on a new account, account takeover, a pickup mule, a
reseller bot) place orders and payment attempts. Each goes through shop/risk/features.py and
shop/risk/scoring.py exactly as in the shop; only the storage is swapped: the velocity counters
live in a local-memory cache with simulated time, and the History (shipping addresses seen,
the shop's order distribution, account facts) is kept in memory instead of the database.

Every night the model is retrained as production does (shop/risk/training.py: time-based
split, promoted only if it beats the model in use) on the labels known by then: reviewer
decisions the same day, chargebacks 7-40 days after the order, and orders nobody reported
after RISK_LEGIT_AFTER_DAYS. Blocked orders never get a label (nobody was charged).

It reports, over the last --eval-weeks weeks, per scenario the share of fraudulent orders caught
at a false-positive rate of at most 1 % of legitimate orders, the precision of the review queue
at the reviewers' daily capacity, the PR-AUC, and the p50/p99 time of one scoring.
"""

import argparse
import os
import random
import string
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.fraud.settings"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from shop.risk import features as feats  # noqa: E402
from shop.risk import scoring, training, velocity  # noqa: E402
from shop.risk.interface import AccountFacts, Client, LineFacts, OrderFacts, PaymentAttemptFacts  # noqa: E402

START = datetime(2026, 6, 1, tzinfo=UTC)
COUNTRIES = ["DE", "DE", "DE", "DE", "AT", "NL", "FR", "BE"]
CATEGORIES = ["books", "kitchen", "garden", "toys", "clothing", "electronics"]
FIRST = ["anna", "ben", "clara", "david", "eva", "felix", "greta", "hans", "ida", "jonas", "lena", "max", "nora"]
LAST = ["meyer", "schmidt", "fischer", "weber", "wagner", "becker", "hoffmann", "koch", "richter", "klein"]
DOMAINS = ["example.com", "mail.example", "post.example", "web.example"]


@dataclass
class Customer:
    id: int
    email: str
    joined: datetime
    verified: bool
    mfa: bool
    home: tuple
    device: str
    ip: str
    typical: float
    totals: list = field(default_factory=list)


@dataclass
class Outcome:
    scenario: str
    fraud: bool
    at: datetime
    rules: int = 0
    model: int | None = None
    action: str = "allow"
    features: dict = field(default_factory=dict)
    scored_at: datetime | None = None
    label_at: datetime | None = None  # when its truth becomes known to training


class SimHistory:
    def __init__(self):
        self.seen: set = set()
        self.p95 = 20000

    def shipping_seen(self, *, user_id, shipping_hash):
        return (user_id, shipping_hash) in self.seen

    def shop_p95_minor(self):
        return self.p95

    def account(self, **kwargs):
        return None


class Sim:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.history = SimHistory()
        self.model = None
        scoring.active_model = lambda: self.model  # the simulator's "model in use"
        self.outcomes: list[Outcome] = []
        self.timings: list[float] = []
        self.cpu: list[float] = []
        self.next_id = 1
        self.customers = [self._customer(START - timedelta(days=self.rng.uniform(30, 1500))) for _ in range(3000)]
        for customer in self.customers:
            customer.totals = [customer.typical * self.rng.uniform(0.5, 1.5) for _ in range(self.rng.randint(0, 8))]
        self.promotions: list[tuple[datetime, str, float]] = []

    # --- people and things -------------------------------------------------------------------

    def _token(self, n=16):
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=n))

    def _ip(self):
        return f"10.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}"

    def _address(self, country=None):
        return (
            f"{self.rng.choice(LAST).title()}str. {self.rng.randint(1, 200)}",
            f"{self.rng.randint(10000, 99999)}",
            self.rng.choice(["Berlin", "Hamburg", "Wien", "Köln", "Lyon", "Gent"]),
            country or self.rng.choice(COUNTRIES),
        )

    def _email(self, *, machine=False, disposable=False):
        if machine:
            local = "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=self.rng.randint(8, 12)))
        else:
            local = f"{self.rng.choice(FIRST)}.{self.rng.choice(LAST)}"
            if self.rng.random() < 0.3:
                local += str(self.rng.randint(1, 99))
        domain = self.rng.choice(["mailinator.com", "guerrillamail.com", "10minutemail.com"]) if disposable else None
        return f"{local}@{domain or self.rng.choice(DOMAINS)}"

    def _customer(self, joined):
        cid = self.next_id
        self.next_id += 1
        return Customer(
            id=cid,
            email=self._email(),
            joined=joined,
            verified=self.rng.random() < 0.95,
            mfa=self.rng.random() < 0.2,
            home=self._address(),
            device=self._token(),
            ip=self._ip(),
            typical=self.rng.lognormvariate(8.3, 0.5),  # about 40 EUR
        )

    def _lines(self, total, *, category=None, quantity=None):
        category = category or self.rng.choice(CATEGORIES)
        quantity = quantity or (1 if self.rng.random() < 0.7 else 2)
        price = max(int(total / quantity), 199)
        return (
            LineFacts(
                product_id=self.rng.randint(1, 500), category_slug=category, quantity=quantity, unit_price_minor=price
            ),
        )

    # --- one order through the real scoring code -----------------------------------------------

    def order(
        self,
        scenario,
        fraud,
        at,
        *,
        user=None,
        email,
        client,
        lines,
        ship=None,
        pickup=False,
        account=None,
        attempts=((False, "fp-x"),),
        card_country=None,
    ):
        total = sum(line.quantity * line.unit_price_minor for line in lines)
        ship = None if pickup else ship
        uid = user.id if user else None
        prior = [t for t in user.totals] if user else []
        facts = OrderFacts(
            user_id=uid,
            email=email,
            fulfillment="pickup" if pickup else "delivery",
            total_minor=total,
            currency="EUR",
            lines=lines,
            client=client,
            shipping_street=ship[0] if ship else "",
            shipping_postal_code=ship[1] if ship else "",
            shipping_city=ship[2] if ship else "",
            shipping_country=ship[3] if ship else "",
            prior_orders=len(prior),
            prior_max_minor=int(max(prior)) if prior else 0,
            account=account,
            now=at,
        )
        outcome = Outcome(scenario, fraud, at, scored_at=at)
        started, cpu = time.perf_counter(), time.process_time()
        checkout_features, who = feats.order_features(facts, history=self.history, now=at)
        decision = scoring.decide(checkout_features, listed={})
        feats.count_order(who, now=at)
        self.timings.append(time.perf_counter() - started)
        self.cpu.append(time.process_time() - cpu)
        self._take(outcome, decision, checkout_features)
        if "shipping" in who and uid:
            self.history.seen.add((uid, who["shipping"]))
        if decision.action != "block":
            for n, (declined, card) in enumerate(attempts):
                at_n = at + timedelta(seconds=30 * (n + 1))
                attempt = PaymentAttemptFacts(
                    order_id=0,
                    order_number="",
                    user_id=uid,
                    amount_minor=total,
                    currency="EUR",
                    client=client,
                    card_country=card_country or (ship[3] if ship else "DE"),
                    shipping_country=ship[3] if ship else "",
                    now=at_n,
                )
                started, cpu = time.perf_counter(), time.process_time()
                payment_features, pwho = feats.payment_features(attempt, checkout=checkout_features, now=at_n)
                decision = scoring.decide(payment_features, listed={})
                feats.count_attempt(pwho, now=at_n)
                self.timings.append(time.perf_counter() - started)
                self.cpu.append(time.process_time() - cpu)
                self._take(outcome, decision, payment_features)
                if decision.action == "block":
                    break
                velocity.record_payment_result(
                    user_id=uid, client=client, card_fingerprint=card, declined=declined, now=at_n
                )
                if not declined:
                    break
        if user and not fraud and outcome.action != "block":
            user.totals.append(total)
        self.outcomes.append(outcome)
        return outcome

    def _take(self, outcome, decision, features):
        rules_score = decision.score if decision.scored_by == "rules" else decision.shadow_score
        model_score = decision.shadow_score if decision.scored_by == "rules" else decision.score
        outcome.rules = max(outcome.rules, rules_score or 0)
        if model_score is not None:
            outcome.model = max(outcome.model or 0, model_score)
        order_of = ["allow", "challenge", "review", "block"]
        if order_of.index(decision.action) >= order_of.index(outcome.action):
            outcome.action = decision.action
            outcome.features = features

    # --- a day of traffic ------------------------------------------------------------------------

    def day(self, day_start):
        rng = self.rng
        for _ in range(self.args.orders_per_day):
            self.legit(day_start + timedelta(hours=rng.uniform(7, 23)))
        # Fraud: documented scenarios, several a day.
        self.card_testing(day_start + timedelta(hours=rng.uniform(0, 24)))
        for _ in range(2):
            self.stolen_card(day_start + timedelta(hours=rng.uniform(0, 24)))
        self.takeover(day_start + timedelta(hours=rng.uniform(0, 24)))
        if rng.random() < 0.7:
            self.mule(day_start + timedelta(hours=rng.uniform(9, 19)))
        if rng.random() < 0.7:
            self.reseller(day_start + timedelta(hours=rng.uniform(0, 24)))

    def legit(self, at):
        rng = self.rng
        kind = rng.random()
        if kind < 0.22:  # guest
            user, email, account = None, self._email(), None
            client = Client(session_key=self._token(), address=self._ip(), device_id=self._token())
            ship = self._address()
        else:
            if kind < 0.30:  # signed up today
                user = self._customer(at - timedelta(minutes=rng.uniform(5, 600)))
                self.customers.append(user)
            else:
                user = rng.choice(self.customers)
            email = user.email
            account = AccountFacts(
                age_days=(at - user.joined).total_seconds() / 86400,
                email_verified=user.verified or rng.random() < 0.5,
                has_mfa=user.mfa,
                hours_since_credential_change=rng.uniform(0, 24) if rng.random() < 0.01 else None,
                session_age_minutes=rng.uniform(1, 59) if rng.random() < 0.4 else rng.uniform(60, 20000),
            )
            client = Client(session_key=self._token(), address=user.ip, device_id=user.device)
            ship = user.home if rng.random() < 0.93 else self._address()
        base = (user.typical if user else rng.lognormvariate(8.3, 0.6)) * rng.lognormvariate(0, 0.5)
        quantity = rng.randint(5, 12) if rng.random() < 0.01 else None
        if rng.random() < 0.02:
            base *= rng.uniform(3, 8)
        lines = self._lines(base, quantity=quantity)
        attempts = [(False, "fp-" + self._token(6))]
        if rng.random() < 0.05:
            attempts.insert(0, (True, "fp-" + self._token(6)))
        pickup = rng.random() < 0.25
        foreign = rng.choice(["US", "GB", "CH"]) if rng.random() < 0.03 else None
        self.order(
            "legitimate",
            False,
            at,
            user=user,
            email=email,
            client=client,
            lines=lines,
            ship=ship,
            pickup=pickup,
            account=account,
            attempts=attempts,
            card_country=foreign,
        )

    def card_testing(self, at):
        rng = self.rng
        client = Client(session_key=self._token(), address=self._ip(), device_id=self._token())
        cards = [(rng.random() < 0.9, "fp-" + self._token(8)) for _ in range(rng.randint(6, 15))]
        self.order(
            "card testing",
            True,
            at,
            email=self._email(machine=True),
            client=client,
            lines=self._lines(rng.uniform(500, 2500)),
            ship=self._address(),
            attempts=cards,
        )

    def stolen_card(self, at):
        rng = self.rng
        user = self._customer(at - timedelta(minutes=rng.uniform(2, 90)))
        account = AccountFacts(
            age_days=(at - user.joined).total_seconds() / 86400,
            email_verified=rng.random() < 0.2,
            has_mfa=False,
            hours_since_credential_change=None,
            session_age_minutes=rng.uniform(1, 30),
        )
        email = self._email(disposable=rng.random() < 0.3, machine=rng.random() < 0.3)
        client = Client(session_key=self._token(), address=self._ip(), device_id=self._token())
        category = "electronics" if rng.random() < 0.8 else rng.choice(CATEGORIES)
        card_country = rng.choice(["US", "GB", "BR", "CA"]) if rng.random() < 0.7 else None
        attempts = [(rng.random() < 0.3, "fp-" + self._token(8)), (False, "fp-" + self._token(8))]
        self.order(
            "stolen card, new account",
            True,
            at,
            user=user,
            email=email,
            client=client,
            lines=self._lines(rng.uniform(30000, 150000), category=category),
            ship=self._address(),
            account=account,
            attempts=attempts,
            card_country=card_country,
        )

    def takeover(self, at):
        rng = self.rng
        victim = rng.choice([c for c in self.customers[:3000] if len(c.totals) >= 2])
        account = AccountFacts(
            age_days=(at - victim.joined).total_seconds() / 86400,
            email_verified=True,
            has_mfa=False,
            hours_since_credential_change=rng.uniform(0.2, 10) if rng.random() < 0.85 else None,
            session_age_minutes=rng.uniform(1, 50),
        )
        client = Client(session_key=self._token(), address=self._ip(), device_id=self._token())
        total = max(victim.totals) * rng.uniform(4, 12)
        category = "electronics" if rng.random() < 0.6 else rng.choice(CATEGORIES)
        self.order(
            "account takeover",
            True,
            at,
            user=victim,
            email=victim.email,
            client=client,
            lines=self._lines(total, category=category),
            ship=self._address("DE"),
            account=account,
        )

    def mule(self, at):
        rng = self.rng
        device, ip = self._token(), self._ip()
        for n in range(rng.randint(3, 5)):
            client = Client(
                session_key=self._token(), address=ip, device_id=device if rng.random() < 0.7 else self._token()
            )
            self.order(
                "pickup mule",
                True,
                at + timedelta(minutes=8 * n),
                email=self._email(),
                client=client,
                lines=self._lines(rng.uniform(15000, 60000), category="electronics"),
                pickup=True,
            )

    def reseller(self, at):
        rng = self.rng
        device, ip, product = self._token(), self._ip(), rng.randint(1, 500)
        for n in range(rng.randint(2, 4)):
            quantity = rng.randint(10, 20)
            lines = (
                LineFacts(product_id=product, category_slug="electronics", quantity=quantity, unit_price_minor=8999),
            )
            client = Client(session_key=self._token(), address=ip, device_id=device)
            self.order(
                "reseller bot",
                True,
                at + timedelta(minutes=5 * n),
                email=self._email(machine=rng.random() < 0.5),
                client=client,
                lines=lines,
                ship=self._address("DE"),
            )

    # --- labels and nightly training --------------------------------------------------------------

    def label_day(self, day_start):
        """Reviewers work the day's queue (up to capacity, highest score first): those labels are known now;
        chargebacks arrive 7-40 days after the order."""
        todays = [o for o in self.outcomes if day_start <= o.at < day_start + timedelta(days=1)]
        queue = sorted((o for o in todays if o.action == "review"), key=lambda o: -o.rules)[: self.args.capacity]
        for outcome in queue:
            outcome.label_at = day_start + timedelta(days=1)
        for outcome in todays:
            if outcome.label_at is None and outcome.fraud and outcome.action != "block":
                outcome.label_at = outcome.at + timedelta(days=self.rng.uniform(7, 40))

    def train(self, now):
        legit_after = timedelta(days=settings.RISK_LEGIT_AFTER_DAYS)
        examples = []
        for o in self.outcomes:
            if o.action == "block":
                continue
            if o.label_at is not None and o.label_at <= now:
                examples.append(training.Example(o.features, o.scored_at, o.fraud))
            elif not o.fraud and o.at < now - legit_after:
                examples.append(training.Example(o.features, o.scored_at, False))
            elif o.fraud and o.label_at is None and o.at < now - legit_after:
                pass  # never reported: unknown to the shop
        outcome = training.train(now=now, examples=examples, store=False, current=self.model)
        if outcome.get("trained") and outcome["promoted"]:
            self.model = scoring.LoadedModel(
                id=len(self.promotions) + 1,
                kind=outcome["kind"],
                features=feats.FEATURES,
                parameters=outcome["parameters"],
            )
            self.promotions.append((now, outcome["kind"], outcome["metrics"]["pr_auc"]))
        return outcome

    def refresh_p95(self, now):
        recent = sorted(o.features.get("total_minor", 0) for o in self.outcomes[-self.args.orders_per_day * 30 :])
        if len(recent) >= 50:
            self.history.p95 = int(recent[int(len(recent) * 0.95)]) or 20000


def report(sim, since):
    import numpy as np
    from sklearn.metrics import average_precision_score

    window = [o for o in sim.outcomes if o.at >= since]
    legit = [o for o in window if not o.fraud]
    lines = []
    for scorer in ("rules", "model"):
        scores = [getattr(o, scorer) for o in window]
        if any(s is None for s in scores):
            lines.append(f"{scorer}: no model in use during the whole evaluation window")
            continue
        legit_scores = np.array([getattr(o, scorer) for o in legit])
        threshold = next(t for t in range(0, 102) if (legit_scores >= t).mean() <= 0.01)
        y = np.array([o.fraud for o in window])
        pr_auc = average_precision_score(y, np.array(scores))
        lines.append(
            f"\n{scorer}: flag from score {threshold} (legitimate orders flagged: "
            f"{(legit_scores >= threshold).mean():.2%}); PR-AUC {pr_auc:.3f}"
        )
        lines.append(f"  {'scenario':<26} {'orders':>7} {'caught at <=1% FPR':>19}")
        for scenario in sorted({o.scenario for o in window if o.fraud}):
            group = [o for o in window if o.scenario == scenario]
            caught = sum(getattr(o, scorer) >= threshold for o in group) / len(group)
            lines.append(f"  {scenario:<26} {len(group):>7} {caught:>19.1%}")
        fraud_all = [o for o in window if o.fraud]
        caught_all = sum(getattr(o, scorer) >= threshold for o in fraud_all) / len(fraud_all)
        lines.append(f"  {'all fraud':<26} {len(fraud_all):>7} {caught_all:>19.1%}")
        days = sorted({o.at.date() for o in window})
        hits = total = 0
        for day in days:
            todays = sorted((o for o in window if o.at.date() == day), key=lambda o: -getattr(o, scorer))
            top = todays[: sim.args.capacity]
            hits += sum(o.fraud for o in top)
            total += len(top)
        best = sum(min(sum(o.fraud for o in window if o.at.date() == day), sim.args.capacity) for day in days)
        lines.append(
            f"  review queue precision at {sim.args.capacity} reviews a day: {hits / total:.1%} "
            f"(the most possible with this much fraud: {best / total:.1%})"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--eval-weeks", type=int, default=4)
    parser.add_argument("--orders-per-day", type=int, default=250)
    parser.add_argument("--capacity", type=int, default=20, help="reviews a day")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--retrain-every", type=int, default=1, help="days between trainings (1: nightly)")
    args = parser.parse_args()
    sim = Sim(args)
    began = time.perf_counter()
    train_seconds = 0.0
    for n in range(args.weeks * 7):
        day_start = START + timedelta(days=n)
        sim.refresh_p95(day_start)
        sim.day(day_start)
        sim.label_day(day_start)
        if (n + 1) % args.retrain_every == 0:
            t0 = time.perf_counter()
            sim.train(day_start + timedelta(days=1, hours=2, minutes=41))
            train_seconds += time.perf_counter() - t0
    since = START + timedelta(days=(args.weeks - args.eval_weeks) * 7)
    timings = sorted(sim.timings)
    print(
        f"{len(sim.outcomes)} orders ({sum(o.fraud for o in sim.outcomes)} fraudulent) over {args.weeks} weeks, "
        f"{len(timings)} scorings; evaluated on the last {args.eval_weeks} weeks; seed {args.seed}"
    )
    cpu = sorted(sim.cpu)

    def pct(values, share):
        return values[min(int(len(values) * share), len(values) - 1)] * 1000

    print(
        f"scoring time per call (checkout or payment attempt): wall p50 {pct(timings, 0.5):.3f} ms, "
        f"p99 {pct(timings, 0.99):.3f} ms; CPU p50 {pct(cpu, 0.5):.3f} ms, p99 {pct(cpu, 0.99):.3f} ms"
    )
    print(
        f"models promoted: {len(sim.promotions)}"
        + (
            f" (first {sim.promotions[0][0]:%Y-%m-%d} {sim.promotions[0][1]}, last {sim.promotions[-1][0]:%Y-%m-%d} "
            f"{sim.promotions[-1][1]} PR-AUC {sim.promotions[-1][2]:.3f} on its validation weeks)"
            if sim.promotions
            else ""
        )
    )
    print(f"training: {train_seconds:.0f} s in all; whole run {time.perf_counter() - began:.0f} s")
    for line in report(sim, since):
        print(line)


if __name__ == "__main__":
    main()
