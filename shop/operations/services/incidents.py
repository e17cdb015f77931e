"""The incident and breach register: filing, changes, the timeline, the authority notification,
and the reminders of the 72-hour clock. Every change is an audit event (field names and ids only:
an incident's text may describe people, the audit log never does)."""

import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from shop.core import audit

from .. import emails
from ..models import REMINDER_HOURS, Incident, IncidentEntry

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class IncidentError(Exception):
    """A step on an incident that is not allowed; the message is for people. HTTP meaning: 400."""

    status_code = 400


def _reference() -> str:
    return f"INC-{timezone.now():%Y}-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


def file_incident(*, actor, fields: dict, responsible=()) -> Incident:
    with transaction.atomic():
        incident = Incident(**fields, created_by=actor, reference=_reference())
        check_incident(incident)
        incident.save()
        if responsible:
            incident.responsible.set(responsible)
        IncidentEntry.objects.create(incident=incident, author=actor, text="Incident filed.")
        audit.record(
            "incident.filed",
            actor=actor,
            subject=incident,
            data={"reference": incident.reference, "breach": incident.is_breach, "severity": incident.severity},
        )
    return incident


def update_incident(*, incident_id: int, actor, fields: dict, responsible=None) -> Incident:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        changed = sorted(name for name, value in fields.items() if getattr(incident, name) != value)
        for name, value in fields.items():
            setattr(incident, name, value)
        check_incident(incident)
        if incident.status == Incident.Status.CLOSED and incident.closed_at is None:
            incident.closed_at = timezone.now()
        elif incident.status != Incident.Status.CLOSED:
            incident.closed_at = None
        incident.save()
        if responsible is not None and set(incident.responsible.all()) != set(responsible):
            incident.responsible.set(responsible)
            changed.append("responsible")
        if changed:
            IncidentEntry.objects.create(incident=incident, author=actor, text="Changed: " + ", ".join(changed) + ".")
            audit.record("incident.changed", actor=actor, subject=incident, data={"fields": changed})
    return incident


def check_incident(incident: Incident) -> None:
    """The rules an incident's fields must meet (the admin form runs them before saving)."""
    if incident.became_aware_at and incident.detected_at and incident.became_aware_at < incident.detected_at:
        raise IncidentError("The shop cannot become aware of an incident before it was detected.")
    if incident.became_aware_at and incident.became_aware_at > timezone.now() + timedelta(minutes=5):
        raise IncidentError("The time of awareness lies in the future.")
    if incident.subjects_scope == Incident.Subjects.LIST and not subject_id_list(incident):
        raise IncidentError("List the affected account ids, or choose another scope of affected subjects.")
    if incident.subjects_scope == Incident.Subjects.ORDERED_IN_WINDOW and not (
        incident.window_start and incident.window_end and incident.window_start <= incident.window_end
    ):
        raise IncidentError("Give the window (start before end) in which the affected orders were placed.")


def add_entry(*, incident_id: int, actor, text: str) -> IncidentEntry:
    text = text.strip()
    if not text:
        raise IncidentError("A timeline entry needs a text.")
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        entry = IncidentEntry.objects.create(incident=incident, author=actor, text=text[:5000])
        audit.record("incident.entry_added", actor=actor, subject=incident, data={"entry_id": entry.pk})
    return entry


def record_authority_notification(*, incident_id: int, actor, at: datetime, reference: str = "") -> Incident:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not incident.is_breach:
            raise IncidentError("Only a personal-data breach is notified to the supervisory authority.")
        if incident.authority_notified_at is not None:
            raise IncidentError("The authority notification is already recorded.")
        if at > timezone.now() + timedelta(minutes=5):
            raise IncidentError("The notification time lies in the future.")
        if at < incident.became_aware_at:
            raise IncidentError("The authority cannot have been notified before the shop became aware.")
        incident.authority_notified_at = at
        incident.authority_reference = reference.strip()[:100]
        incident.save(update_fields=["authority_notified_at", "authority_reference"])
        in_time = incident.notified_in_time
        IncidentEntry.objects.create(
            incident=incident,
            author=actor,
            text=f"Supervisory authority notified ({'within' if in_time else 'after'} 72 hours).",
        )
        audit.record("incident.authority_notified", actor=actor, subject=incident, data={"in_time": in_time})
    return incident


def subject_id_list(incident: Incident) -> list[int]:
    ids = []
    for token in incident.subject_ids.replace(",", " ").split():
        if not token.isdigit():
            raise IncidentError(f"{token[:20]!r} is not an account id.")
        ids.append(int(token))
    return sorted(set(ids))


def affected_subjects(incident: Incident):
    """The affected accounts, as a queryset (active accounts with an address to write to)."""
    users = get_user_model().objects.filter(is_active=True)
    scope = incident.subjects_scope
    if scope == Incident.Subjects.LIST:
        return users.filter(pk__in=subject_id_list(incident))
    if scope == Incident.Subjects.ALL_ACCOUNTS:
        return users.filter(is_staff=False)
    if scope == Incident.Subjects.ORDERED_IN_WINDOW:
        from shop.orders.models import Order

        buyers = Order.objects.filter(
            created_at__gte=incident.window_start, created_at__lte=incident.window_end, user__isnull=False
        ).values("user_id")
        return users.filter(pk__in=buyers)
    return users.none()


def send_due_reminders(*, now: datetime | None = None) -> int:
    """E-mail the DPO, the managers and the responsible people at 24, 48 and 66 hours after
    awareness, until the authority notification is recorded. Idempotent: each hour once."""
    now = now or timezone.now()
    sent = 0
    candidates = Incident.objects.filter(is_breach=True, authority_notified_at__isnull=True).values_list(
        "pk", flat=True
    )
    for incident_id in candidates:
        with transaction.atomic():
            incident = Incident.objects.select_for_update().get(pk=incident_id)
            elapsed = (now - incident.became_aware_at).total_seconds() / 3600
            due = [hour for hour in REMINDER_HOURS if elapsed >= hour and hour not in incident.reminders_sent]
            if not due or incident.authority_notified_at is not None:
                continue
            incident.reminders_sent = sorted({*incident.reminders_sent, *due})
            incident.save(update_fields=["reminders_sent"])
            # On commit: a reminder is not sent for a row change that rolled back.
            hour = max(due)
            transaction.on_commit(lambda i=incident, h=hour: emails.send_breach_reminder(incident=i, hour=h))
            audit.record("incident.reminder_sent", subject=incident, data={"hour": hour})
            sent += 1
    return sent
