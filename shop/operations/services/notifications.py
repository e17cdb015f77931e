"""Telling the affected subjects of a breach (GDPR Art. 34), one e-mail each, as a resumable job.

The officer writes the text, reviews it as a subject will see it, then starts the job. The job
holds a lease on its row that it renews every batch; the sweeper re-enqueues a job whose lease
ran out (a killed worker), and the job skips everyone who already has a SubjectNotice. A notice
row is written right after its e-mail is handed to the mail server, so a crash in between can
send one e-mail twice but never skips anyone (at least once: the right side for a breach notice).
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from shop.core import audit

from .. import emails
from ..models import Incident, SubjectNotice, SubjectNotification
from .incidents import IncidentError, affected_subjects

LEASE = timedelta(minutes=2)
BATCH = 50


def save_draft(*, incident_id: int, actor, subject_line: str, body: str) -> SubjectNotification:
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        if not incident.is_breach:
            raise IncidentError("Only the subjects of a personal-data breach are notified.")
        notification = SubjectNotification.objects.filter(incident=incident).first()
        if notification is not None and notification.status in (
            SubjectNotification.Status.SENDING,
            SubjectNotification.Status.DONE,
        ):
            raise IncidentError("The notification is already being sent; its text can no longer change.")
        if not subject_line.strip() or not body.strip():
            raise IncidentError("The e-mail needs a subject and a text.")
        notification = notification or SubjectNotification(incident=incident)
        notification.subject_line = subject_line.strip()[:150]
        notification.body = body.strip()
        # Any change needs a new review.
        notification.status = SubjectNotification.Status.DRAFT
        notification.reviewed_by, notification.reviewed_at = None, None
        notification.save()
        audit.record(
            "incident.notice_drafted", actor=actor, subject=incident, data={"notification_id": notification.pk}
        )
    return notification


def mark_reviewed(*, notification_id: int, actor) -> SubjectNotification:
    with transaction.atomic():
        notification = SubjectNotification.objects.select_for_update().get(pk=notification_id)
        if notification.status != SubjectNotification.Status.DRAFT:
            raise IncidentError("Only a draft can be reviewed.")
        notification.status = SubjectNotification.Status.REVIEWED
        notification.reviewed_by, notification.reviewed_at = actor, timezone.now()
        notification.save()
        audit.record("incident.notice_reviewed", actor=actor, subject=notification.incident, data={})
    return notification


def start_sending(*, notification_id: int, actor) -> SubjectNotification:
    from .. import tasks

    with transaction.atomic():
        notification = SubjectNotification.objects.select_for_update().get(pk=notification_id)
        if notification.status != SubjectNotification.Status.REVIEWED:
            raise IncidentError("Review the e-mail before sending it.")
        notification.status = SubjectNotification.Status.SENDING
        notification.total = affected_subjects(notification.incident).count()
        notification.started_at = timezone.now()
        notification.save()
        audit.record(
            "incident.notice_started", actor=actor, subject=notification.incident, data={"subjects": notification.total}
        )
        tasks.notify_subjects.delay_on_commit(notification.pk)
    return notification


def _take_lease(notification_id: int) -> SubjectNotification | None:
    with transaction.atomic():
        notification = SubjectNotification.objects.select_for_update().get(pk=notification_id)
        now = timezone.now()
        if notification.status != SubjectNotification.Status.SENDING:
            return None
        if notification.lease_until and notification.lease_until > now:
            return None  # another worker holds it
        notification.lease_until = now + LEASE
        notification.save(update_fields=["lease_until", "updated_at"])
        return notification


def run_notification(*, notification_id: int) -> str:
    notification = _take_lease(notification_id)
    if notification is None:
        return "nothing to do"
    while True:
        done = SubjectNotice.objects.filter(notification=notification).values("user_ref")
        batch = list(affected_subjects(notification.incident).exclude(pk__in=done).order_by("pk")[:BATCH])
        for user in batch:
            emails.send_subject_notice(notification=notification, user=user)
            try:
                with transaction.atomic():
                    SubjectNotice.objects.create(notification=notification, user=user, user_ref=user.pk)
            except IntegrityError:
                pass  # recorded by a run that overlapped this one
        with transaction.atomic():
            row = SubjectNotification.objects.select_for_update().get(pk=notification_id)
            row.sent = SubjectNotice.objects.filter(notification=row).count()
            row.lease_until = timezone.now() + LEASE
            finished = not batch
            if finished:
                row.status = SubjectNotification.Status.DONE
                row.finished_at = timezone.now()
                row.lease_until = None
                row.total = max(row.total, row.sent)
                audit.record("incident.notice_done", subject=row.incident, data={"sent": row.sent})
            row.save()
        if finished:
            return "done"


def stalled_notifications() -> list[int]:
    """Sending jobs whose lease ran out (or never started): the sweeper enqueues them again."""
    from django.db.models import Q

    now = timezone.now()
    return list(
        SubjectNotification.objects.filter(status=SubjectNotification.Status.SENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .values_list("pk", flat=True)
    )
