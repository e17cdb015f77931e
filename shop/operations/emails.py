"""The operations app's e-mails: breach reminders to staff and breach notices to subjects."""

from string import Template

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from shop.accounts.roles import MANAGER
from shop.core.mail import template_headers


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
    subject = f"Breach {incident.reference}: {hour} hours since awareness"
    headers = template_headers("emails/operations_breach_reminder.txt")
    return EmailMessage(subject, body, to=recipients, headers=headers).send()


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
    headers = template_headers("operations.subject_notice")  # the officer's reviewed text, not a file
    return EmailMessage(subject, body, to=[user.email], headers=headers).send()
