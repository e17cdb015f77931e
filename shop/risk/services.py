"""Every write of the risk engine: assessments, holds, reviewer decisions, lists, labels.

Assessments are stored with their order id and number (risk imports neither orders nor
payments); a reviewer's decision is announced through interface.review_approved/rejected,
which orders handles in the same transaction (release, or cancel with void or refund).
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from shop.core import audit

from . import features as feats
from . import hashing, scoring, selectors
from .interface import Assessment, OrderFacts, PaymentAttemptFacts, review_approved, review_rejected
from .models import Label, ListEntry, Review, RiskAssessment

logger = logging.getLogger(__name__)

_history = selectors.DatabaseHistory()


class RiskError(Exception):
    """A request the risk desk must refuse; `str(error)` is for the analyst, `status` its HTTP meaning."""

    status = 409


def _store(*, stage, decision, features, who, user_id, order_id=None, order_number="", amount_minor, currency):
    return RiskAssessment.objects.create(
        stage=stage,
        order_id=order_id,
        order_number=order_number,
        user_id=user_id,
        score=decision.score,
        action=decision.action,
        reasons=[{"code": r.code, "text": r.text, "points": r.points} for r in decision.reasons],
        features=features,
        scored_by=decision.scored_by,
        shadow_score=decision.shadow_score,
        shadow_by=decision.shadow_by,
        amount_minor=amount_minor,
        currency=currency,
        identities=who,
        shipping_hash=who.get("shipping", ""),
    )


def _result(row: RiskAssessment, decision) -> Assessment:
    return Assessment(
        score=decision.score, action=decision.action, reasons=decision.reasons, id=row.pk, features=row.features
    )


def assess_order(*, facts: OrderFacts) -> Assessment:
    """Score a checkout before the order is made; stored unlinked, then linked by link_order."""
    now = facts.now or timezone.now()
    features, who = feats.order_features(facts, history=_history, now=now)
    decision = scoring.decide(features, listed=selectors.listed(identities=who, address=facts.client.address))
    feats.count_order(who, now=now)
    row = _store(
        stage=RiskAssessment.Stage.CHECKOUT,
        decision=decision,
        features=features,
        who=who,
        user_id=facts.user_id,
        amount_minor=facts.total_minor,
        currency=facts.currency,
    )
    logger.info("Checkout risk assessment %s: score %s, %s", row.pk, decision.score, decision.action)
    return _result(row, decision)


def link_order(*, assessment: Assessment, order_id: int, order_number: str) -> None:
    """The order exists now: key the checkout assessment by it, and hold it if the score asked for review."""
    # No savepoint: the caller's transaction (place_order) already holds everything; one round trip less.
    with transaction.atomic(savepoint=False):
        RiskAssessment.objects.filter(pk=assessment.id).update(order_id=order_id, order_number=order_number)
        if assessment.held:
            _hold(assessment_id=assessment.id, order_id=order_id, order_number=order_number)


def _hold(*, assessment_id: int, order_id: int, order_number: str) -> Review:
    row = RiskAssessment.objects.get(pk=assessment_id)
    review, created = Review.objects.get_or_create(
        order_id=order_id, defaults={"order_number": order_number, "assessment": row, "user_id": row.user_id}
    )
    if created:
        audit.record("risk.order_held", subject=review, data={"order_id": order_id, "score": row.score})
    return review


def assess_payment(*, facts: PaymentAttemptFacts) -> Assessment:
    """Score a payment attempt on top of its checkout. An order already held stays held (at least
    "review"), so paying again cannot shake off a hold."""
    now = facts.now or timezone.now()
    checkout = selectors.checkout_assessment(order_id=facts.order_id)
    features, who = feats.payment_features(facts, checkout=checkout.features if checkout else {}, now=now)
    identities = {**(checkout.identities if checkout else {}), **who}
    decision = scoring.decide(features, listed=selectors.listed(identities=identities, address=facts.client.address))
    feats.count_attempt(who, now=now)
    with transaction.atomic(savepoint=False):  # inside pay_order's transaction: no savepoint round trips
        review = Review.objects.filter(order_id=facts.order_id).first()
        if review is not None and review.status != Review.Status.APPROVED and decision.action in ("allow", "challenge"):
            decision = scoring.Decision(
                max(decision.score, settings_review_from()),
                "review",
                decision.reasons,
                decision.scored_by,
                decision.shadow_score,
                decision.shadow_by,
            )
        if review is not None and review.status == Review.Status.APPROVED and decision.action == "review":
            # A reviewer already looked at this order: a new attempt is not held again, only challenged.
            decision = scoring.Decision(
                decision.score,
                "challenge",
                decision.reasons,
                decision.scored_by,
                decision.shadow_score,
                decision.shadow_by,
            )
        row = _store(
            stage=RiskAssessment.Stage.PAYMENT,
            decision=decision,
            features=features,
            who=identities,
            user_id=facts.user_id,
            order_id=facts.order_id,
            order_number=facts.order_number,
            amount_minor=facts.amount_minor,
            currency=facts.currency,
        )
        if decision.action == "review":
            _hold(assessment_id=row.pk, order_id=facts.order_id, order_number=facts.order_number)
        if decision.action == "block":
            audit.record(
                "risk.payment_blocked", subject=row, data={"order_id": facts.order_id, "score": decision.score}
            )
    logger.info("Payment risk assessment %s: score %s, %s", row.pk, decision.score, decision.action)
    return _result(row, decision)


def settings_review_from() -> int:
    from django.conf import settings

    return settings.RISK_REVIEW_FROM


# --- The review desk ------------------------------------------------------------------------------


def decide_review(
    *, review_id: int, reviewer, approve: bool, note: str = "", block_kinds: tuple[str, ...] = ()
) -> Review:
    """Approve (the order is released) or reject (orders cancels it, voiding or refunding), once.

    The decision is audited, becomes a label, and is announced to orders inside this transaction:
    if cancelling fails, the decision is rolled back with it and the order stays held.
    """
    with transaction.atomic():
        review = Review.objects.select_for_update().filter(pk=review_id).first()
        if review is None:
            raise RiskError("This review does not exist.")
        if review.status != Review.Status.PENDING:
            raise RiskError(f"Order {review.order_number} was already {review.get_status_display().lower()}.")
        review.status = Review.Status.APPROVED if approve else Review.Status.REJECTED
        review.decided_at = timezone.now()
        review.decided_by = reviewer
        review.note = note[:500]
        review.save(update_fields=["status", "decided_at", "decided_by", "note"])
        record_label(
            order_id=review.order_id,
            source=Label.Source.REVIEW,
            is_fraud=not approve,
            actor=reviewer,
        )
        added = []
        if not approve:
            identities = review.assessment.identities
            for kind in block_kinds:
                if identities.get(kind):
                    add_list_entry(
                        kind=kind,
                        verdict=ListEntry.Verdict.BLOCK,
                        value_hash=identities[kind],
                        reason=f"Rejected order {review.order_number}" + (f": {note[:200]}" if note else ""),
                        days=365,
                        actor=reviewer,
                        user_id=review.user_id,
                    )
                    added.append(kind)
        audit.record(
            "risk.review_approved" if approve else "risk.review_rejected",
            actor=reviewer,
            subject=review,
            data={"order_id": review.order_id, "score": review.assessment.score, "blocked": added},
        )
        signal = review_approved if approve else review_rejected
        signal.send(sender=Review, order_id=review.order_id, reviewer=reviewer, note=note[:200])
    return review


# --- Lists ----------------------------------------------------------------------------------------


def add_list_entry(
    *,
    kind: str,
    verdict: str,
    reason: str,
    days: int,
    actor,
    value: str = "",
    value_hash: str = "",
    user_id: int | None = None,
) -> ListEntry:
    """A block or allow entry with its reason and expiry. `value` in clear (hashed here) or a hash."""
    if kind not in ListEntry.Kind.values or verdict not in ListEntry.Verdict.values:
        raise RiskError("Choose what kind of entry and whether it blocks or allows.")
    if not reason.strip():
        raise RiskError("Give a reason: colleagues must know why this entry exists.")
    if not 1 <= days <= 3 * 365:
        raise RiskError("An entry expires after 1 to 1095 days.")
    network, hint = "", ""
    if kind == ListEntry.Kind.NETWORK:
        import ipaddress

        try:
            network = str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise RiskError("Enter an address range such as 203.0.113.0/24.") from None
        hint = network
    elif value:
        value_hash = _hash_for(kind, value)
        hint = _hint(kind, value)
    if kind != ListEntry.Kind.NETWORK and not value_hash:
        raise RiskError("Enter the value to list.")
    with transaction.atomic():
        entry = ListEntry.objects.create(
            kind=kind,
            verdict=verdict,
            value_hash=value_hash,
            network=network,
            hint=hint,
            reason=reason.strip()[:300],
            expires_at=timezone.now() + timedelta(days=days),
            created_by=actor,
            user_id=user_id,
        )
        audit.record("risk.list_entry_added", actor=actor, subject=entry, data={"kind": kind, "verdict": verdict})
    selectors.forget_networks()
    return entry


def _hash_for(kind: str, value: str) -> str:
    if kind == ListEntry.Kind.EMAIL:
        return hashing.email_hash(value)
    if kind == ListEntry.Kind.SHIPPING:
        # "street, postal code, city, country" as typed by staff.
        parts = [part.strip() for part in value.split(",")]
        parts += [""] * (4 - len(parts))
        return hashing.shipping_hash(street=parts[0], postal_code=parts[1], city=parts[2], country=parts[3])
    if kind == ListEntry.Kind.DEVICE:
        return hashing.device_hash(value.strip())
    if kind == ListEntry.Kind.CARD:
        return hashing.card_hash(value.strip())
    return ""


def _hint(kind: str, value: str) -> str:
    value = value.strip()
    if kind == ListEntry.Kind.EMAIL:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"[:40]
    return f"{value[:3]}…"


def remove_list_entry(*, entry_id: int, actor) -> None:
    with transaction.atomic():
        entry = ListEntry.objects.filter(pk=entry_id).first()
        if entry is None:
            return
        audit.record("risk.list_entry_removed", actor=actor, subject=entry, data={"kind": entry.kind})
        entry.delete()
    selectors.forget_networks()


# --- Labels ---------------------------------------------------------------------------------------


def record_label(*, order_id: int, source: str, is_fraud: bool, actor=None) -> Label | None:
    """The truth about an order, once per source, with the features it was scored on.
    An order that was never scored (placed before the engine) gives no label."""
    assessment = selectors.latest_assessment(order_id=order_id)
    if assessment is None:
        return None
    label, created = Label.objects.get_or_create(
        order_id=order_id,
        source=source,
        defaults={
            "is_fraud": is_fraud,
            "features": assessment.features,
            "scored_at": assessment.created_at,
            "created_by": actor,
        },
    )
    if created and source != Label.Source.REVIEW:
        audit.record("risk.labelled", actor=actor, subject=label, data={"order_id": order_id, "source": source})
    return label


def purge(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention: expired list entries, old assessments, reviews and labels."""
    from django.conf import settings

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.RISK_RETENTION_DAYS)
    with transaction.atomic():
        counts = {
            "list_entries": ListEntry.objects.filter(expires_at__lte=now).delete()[0],
            "labels": Label.objects.filter(created_at__lt=cutoff).delete()[0],
            "reviews": Review.objects.filter(created_at__lt=cutoff).exclude(status=Review.Status.PENDING).delete()[0],
        }
        held = Review.objects.values_list("assessment_id", flat=True)
        counts["assessments"] = RiskAssessment.objects.filter(created_at__lt=cutoff).exclude(pk__in=held).delete()[0]
    selectors.forget_networks()
    return counts
