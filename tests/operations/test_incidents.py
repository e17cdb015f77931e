"""The incident and breach register: filing, the 72-hour clock, reminders, notifying subjects."""

from datetime import timedelta

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from shop.core.models import AuditEvent
from shop.operations.models import Incident, IncidentEntry, SubjectNotice, SubjectNotification
from shop.operations.services import incidents, notifications
from tests.factories import UserFactory


def _breach(officer, *, aware_hours_ago=1, subjects=(), **extra):
    now = timezone.now()
    fields = {
        "title": "Exported customer list found on a public share",
        "category": Incident.Category.CONFIDENTIALITY,
        "severity": Incident.Severity.HIGH,
        "description": "A CSV of names and e-mail addresses was reachable for two days.",
        "detected_at": now - timedelta(hours=aware_hours_ago + 1),
        "became_aware_at": now - timedelta(hours=aware_hours_ago),
        "is_breach": True,
        "affected_data": ["contact"],
        "subjects_scope": Incident.Subjects.LIST if subjects else Incident.Subjects.NONE,
        "subject_ids": " ".join(str(user.pk) for user in subjects),
        **extra,
    }
    return incidents.file_incident(actor=officer, fields=fields)


def _admin_form(**overrides):
    now = timezone.localtime()
    data = {
        "title": "Phishing mails in our name",
        "category": "account_takeover",
        "severity": "medium",
        "status": "open",
        "is_breach": "on",
        "detected_at_0": (now - timedelta(hours=3)).strftime("%Y-%m-%d"),
        "detected_at_1": (now - timedelta(hours=3)).strftime("%H:%M:%S"),
        "became_aware_at_0": (now - timedelta(hours=2)).strftime("%Y-%m-%d"),
        "became_aware_at_1": (now - timedelta(hours=2)).strftime("%H:%M:%S"),
        "description": "Customers report e-mails asking for their sign-in code.",
        "affected_data": ["contact", "credentials"],
        "subjects_scope": "none",
        "subject_ids": "",
    }
    data.update(overrides)
    return data


def test_an_officer_files_a_breach_in_the_admin_and_every_step_is_audited(officer_client, officer):
    form = _admin_form()
    response = officer_client.post(reverse("admin:operations_incident_add"), form)
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.reference.startswith("INC-")
    assert incident.affected_data == ["contact", "credentials"]
    assert incident.created_by == officer
    assert AuditEvent.objects.filter(action="incident.filed", actor_id=officer.pk).exists()

    page = officer_client.get(reverse("admin:operations_incident_change", args=[incident.pk]))
    assert b"left to notify the authority" in page.content
    assert b"Incident filed." in page.content

    response = officer_client.post(
        reverse("admin:operations_incident_change", args=[incident.pk]), {**form, "severity": "high"}
    )
    assert response.status_code == 302
    changed = AuditEvent.objects.get(action="incident.changed")
    assert changed.data == {"fields": ["severity"]}  # names only: the texts may describe people
    assert IncidentEntry.objects.filter(incident=incident, text="Changed: severity.").exists()


def test_awareness_before_detection_is_refused_with_a_message(officer_client):
    now = timezone.localtime()
    response = officer_client.post(
        reverse("admin:operations_incident_add"),
        _admin_form(became_aware_at_0=(now - timedelta(days=2)).strftime("%Y-%m-%d")),
    )
    assert response.status_code == 200
    assert b"cannot become aware of an incident before it was detected" in response.content
    assert not Incident.objects.exists()


def test_the_clock_runs_from_awareness_and_turns_red_when_overdue(officer):
    incident = _breach(officer, aware_hours_ago=10)
    assert incident.clock()["state"] == "running"
    assert incident.clock()["text"].startswith("61 h")
    late = _breach(officer, aware_hours_ago=80)
    assert late.clock() == {"state": "overdue", "text": "Overdue by 8 h 00 min: notify the authority now"}


def test_the_clock_is_on_the_incident_list(officer_client, officer):
    _breach(officer, aware_hours_ago=80)
    page = officer_client.get(reverse("admin:operations_incident_changelist"))
    assert b"breach-clock-overdue" in page.content


def test_reminders_go_out_at_24_48_and_66_hours_once_each(
    officer, manager, settings, django_capture_on_commit_callbacks
):
    settings.SHOP_DPO_EMAIL = "dpo@example.com"
    incident = _breach(officer, aware_hours_ago=0)
    aware = incident.became_aware_at

    def run(hours):
        with django_capture_on_commit_callbacks(execute=True):
            return incidents.send_due_reminders(now=aware + timedelta(hours=hours, minutes=1))

    assert run(23) == 0
    for hours, expected_subject in ((24, "24 hours"), (48, "48 hours"), (66, "66 hours")):
        mail.outbox.clear()
        assert run(hours) == 1
        assert run(hours) == 0  # idempotent: a second beat run sends nothing more
        (message,) = mail.outbox
        assert expected_subject in message.subject
        assert incident.reference in message.subject
        assert sorted(message.to) == ["dpo@example.com", "manager@example.com"]
    assert Incident.objects.get(pk=incident.pk).reminders_sent == [24, 48, 66]


def test_reminders_stop_once_the_authority_notification_is_recorded(officer_client, officer, manager):
    incident = _breach(officer, aware_hours_ago=30)
    response = officer_client.post(
        reverse("admin:operations_incident_authority", args=[incident.pk]),
        {"notified_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "reference": "LfD-2026-17"},
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.notified_in_time is True
    assert incident.clock()["state"] == "done"
    mail.outbox.clear()
    assert incidents.send_due_reminders() == 0
    assert mail.outbox == []
    assert AuditEvent.objects.filter(action="incident.authority_notified", data__in_time=True).exists()


def test_a_manager_reads_the_register_but_cannot_change_it(client, verified_login, manager, officer):
    incident = _breach(officer)
    verified_login(client, manager)
    assert client.get(reverse("admin:operations_incident_change", args=[incident.pk])).status_code == 200
    response = client.post(reverse("admin:operations_incident_entry", args=[incident.pk]), {"text": "x"})
    assert response.status_code == 403
    response = client.post(reverse("admin:operations_incident_notify", args=[incident.pk]), {"action": "review"})
    assert response.status_code == 403


def test_a_shopper_cannot_reach_the_register(client, db):
    shopper = UserFactory()
    client.force_login(shopper)
    response = client.get(reverse("admin:operations_incident_changelist"))
    assert response.status_code == 302  # to the admin login, as for any admin page


def test_subjects_are_notified_after_review_one_mail_each_recorded(
    officer_client, officer, django_capture_on_commit_callbacks
):
    alice, bob = UserFactory(first_name="Alice"), UserFactory(first_name="Bob")
    incident = _breach(officer, subjects=[alice, bob])
    url = reverse("admin:operations_incident_notify", args=[incident.pk])
    officer_client.post(
        url,
        {"action": "save", "subject_line": "About $reference", "body": "Dear $first_name, {{ settings.SECRET_KEY }}"},
    )
    page = officer_client.get(url)
    assert b"Dear Alice, {{ settings.SECRET_KEY }}" in page.content  # placeholders only, no template code
    # Sending before the review is refused.
    officer_client.post(url, {"action": "send"})
    assert SubjectNotification.objects.get().status == "draft"
    officer_client.post(url, {"action": "review"})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):  # the job is enqueued on commit
        officer_client.post(url, {"action": "send"})

    notification = SubjectNotification.objects.get()
    assert notification.status == "done"
    assert (notification.sent, notification.total) == (2, 2)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, bob.email])
    assert {m.subject for m in mail.outbox} == {f"About {incident.reference}"}
    assert set(SubjectNotice.objects.values_list("user_ref", flat=True)) == {alice.pk, bob.pk}
    assert b'<progress id="notify-progress" max="2" value="2">' in officer_client.get(url).content


def test_a_notification_job_resumes_where_it_stopped(officer, monkeypatch):
    subjects = [UserFactory() for _ in range(5)]
    incident = _breach(officer, subjects=subjects)
    notification = notifications.save_draft(incident_id=incident.pk, actor=officer, subject_line="S", body="B")
    notifications.mark_reviewed(notification_id=notification.pk, actor=officer)
    SubjectNotification.objects.filter(pk=notification.pk).update(status="sending", total=5)
    # A first worker sent to two subjects, then was killed (its lease ran out).
    for user in subjects[:2]:
        SubjectNotice.objects.create(notification=notification, user=user, user_ref=user.pk)
    SubjectNotification.objects.filter(pk=notification.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert notifications.stalled_notifications() == [notification.pk]

    mail.outbox.clear()
    assert notifications.run_notification(notification_id=notification.pk) == "done"
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in subjects[2:])
    assert SubjectNotice.objects.filter(notification=notification).count() == 5
    assert notifications.run_notification(notification_id=notification.pk) == "nothing to do"


def test_a_job_held_by_a_live_lease_is_not_run_twice(officer):
    incident = _breach(officer, subjects=[UserFactory()])
    notification = notifications.save_draft(incident_id=incident.pk, actor=officer, subject_line="S", body="B")
    SubjectNotification.objects.filter(pk=notification.pk).update(
        status="sending", lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert notifications.run_notification(notification_id=notification.pk) == "nothing to do"
    assert notifications.stalled_notifications() == []
