"""The operations app's e-mails: breach reminders to staff and breach notices to subjects."""

from string import Template

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from shop.accounts.roles import MANAGER


def breach_recipients(incident) -> list[str]:
    users = get_user_model().objects.filter(is_active=True)
    managers = users.filter(groups__name=MANAGER).values_list("email", flat=True)
    responsible = incident.responsible.filter(is_active=True).values_list("email", flat=True)
    addresses = {*managers, *responsible}
    if settings.SHOP_DPO_EMAIL:
        addresses.add(settings.SHOP_DPO_EMAIL)
    return sorted(addresses)


def send_breach_reminder(*, incident, hour: int) -> int:
    recipients = breach_recipients(incident)
    if not recipients:
        return 0
    link = settings.SITE_URL + reverse("admin:operations_incident_change", args=[incident.pk])
    body = render_to_string(
        "emails/operations_breach_reminder.txt",
        {"incident": incident, "hour": hour, "clock": incident.clock(), "link": link},
    )
    # The subject names the reference only: mail logs keep subjects, and titles may say too much.
    return send_mail(f"Breach {incident.reference}: {hour} hours since awareness", body, None, recipients)


def render_subject_notice(notification, user) -> tuple[str, str]:
    """The officer's text with $first_name, $shop_name and $reference filled in, nothing else:
    string.Template does no lookups, so the text cannot reach into the shop's data."""
    values = {
        "first_name": user.first_name or "customer",
        "shop_name": settings.SHOP_NAME,
        "reference": notification.incident.reference,
    }
    subject = Template(notification.subject_line).safe_substitute(values).replace("\n", " ")
    return subject, Template(notification.body).safe_substitute(values)


def send_subject_notice(*, notification, user) -> int:
    subject, body = render_subject_notice(notification, user)
    return send_mail(subject, body, None, [user.email])
