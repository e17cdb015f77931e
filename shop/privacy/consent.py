"""Consent (GDPR Art. 7): the purposes and their versioned texts, and every change of a choice.

Strictly necessary cookies (the session, the CSRF token) need no consent and are not listed. Each
purpose here gates something real:
- marketing_email: who receives the newsletter (`manage.py send_newsletter`);
- analytics: the first-party, aggregate page-view count (`PageViewMiddleware` below), kept in
  our own database.

Choices are append-only `ConsentRecord` rows; the current state of a purpose is the latest record
for the current version of its text. Raising a version asks everybody again.
"""

import secrets
from dataclasses import dataclass
from datetime import date

from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.dispatch import receiver
from django.utils import timezone

from shop.core import audit

from .models import ConsentRecord, PageView

VISITOR_SESSION_KEY = "privacy.visitor_id"
_CACHE_ATTRIBUTE = "_privacy_consent_choices"


@dataclass(frozen=True)
class Purpose:
    key: str
    version: int
    title: str
    text: str


# The one place where purposes and their texts live. Change a text: raise its version.
PURPOSES = {
    "marketing_email": Purpose(
        key="marketing_email",
        version=1,
        title="Marketing e-mail",
        text="Our newsletter with offers and new products, sent to your account's e-mail address "
        "a few times a month. You can withdraw at any time on your account page.",
    ),
    "analytics": Purpose(
        key="analytics",
        version=1,
        title="Analytics",
        text="Count which of our pages are visited, per day and page, in our own database. "
        "No third party is involved and nothing about you personally is kept.",
    ),
}


class ConsentError(Exception):
    """A choice the shop cannot record; `str(error)` is a message for the person."""


def purpose(key: str) -> Purpose:
    try:
        return PURPOSES[key]
    except KeyError:
        raise ConsentError("There is no such privacy choice.") from None


# --- Subjects -------------------------------------------------------------------------------------


def visitor_id(request, *, create: bool = False) -> str:
    """The anonymous visitor's random id, kept in the session (created only when they choose)."""
    value = request.session.get(VISITOR_SESSION_KEY, "")
    if not value and create:
        value = secrets.token_hex(16)
        request.session[VISITOR_SESSION_KEY] = value
    return value


def _subject_filter(*, user=None, visitor: str = "") -> dict | None:
    if user is not None and user.is_authenticated:
        return {"user": user}
    if visitor:
        return {"user": None, "visitor_id": visitor}
    return None


# --- Reads ----------------------------------------------------------------------------------------


def current_choices(*, user=None, visitor: str = "") -> dict[str, ConsentRecord | None]:
    """purpose key -> the latest record for the purpose's current version, or None (ask again)."""
    subject = _subject_filter(user=user, visitor=visitor)
    choices: dict[str, ConsentRecord | None] = dict.fromkeys(PURPOSES)
    if subject is None:
        return choices
    for key, item in PURPOSES.items():
        latest = ConsentRecord.objects.filter(purpose=key, **subject).order_by("-at", "-id").first()
        choices[key] = latest if latest is not None and latest.policy_version == item.version else None
    return choices


def choices_for(request) -> dict[str, ConsentRecord | None]:
    """current_choices() of the person making the request, read once per request."""
    cached = getattr(request, _CACHE_ATTRIBUTE, None)
    if cached is None:
        cached = current_choices(user=getattr(request, "user", None), visitor=visitor_id(request))
        setattr(request, _CACHE_ATTRIBUTE, cached)
    return cached


def has_consent(request, key: str) -> bool:
    record = choices_for(request).get(key)
    return record is not None and record.granted


def needs_asking(request) -> bool:
    return any(record is None for record in choices_for(request).values())


# --- Writes ---------------------------------------------------------------------------------------


def record_choice(*, request=None, user=None, visitor: str = "", key: str, granted: bool, source: str):
    """Append one choice for one purpose of the current text version, and audit it."""
    item = purpose(key)
    if request is not None:
        user = request.user if request.user.is_authenticated else None
        visitor = "" if user is not None else visitor_id(request, create=True)
        if hasattr(request, _CACHE_ATTRIBUTE):
            delattr(request, _CACHE_ATTRIBUTE)  # effective for the rest of this request too
    if _subject_filter(user=user, visitor=visitor) is None:
        raise ConsentError("A choice needs a person to belong to.")
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            user=user,
            visitor_id="" if user is not None else visitor,
            purpose=key,
            policy_version=item.version,
            granted=granted,
            source=source,
        )
        audit.record(
            "consent.granted" if granted else "consent.refused",
            actor=user,
            subject=record,
            data={"purpose": key, "version": item.version, "source": source, "user_id": user.pk if user else None},
        )
    return record


def record_all(*, request, granted: bool, source: str) -> list[ConsentRecord]:
    return [record_choice(request=request, key=key, granted=granted, source=source) for key in PURPOSES]


def withdraw(*, request, key: str, source: str = ConsentRecord.Source.ACCOUNT) -> ConsentRecord:
    """Withdraw one consent: as easy as giving it, and effective at once (Art. 7(3))."""
    return record_choice(request=request, key=key, granted=False, source=source)


@receiver(user_logged_in)
def merge_visitor_choices(sender, request, user, **kwargs):
    """At login, what the anonymous visitor chose in the banner becomes the account's choice."""
    if request is None or not hasattr(request, "session"):
        return
    visitor = request.session.pop(VISITOR_SESSION_KEY, "")
    if not visitor:
        return
    moved = ConsentRecord.objects.filter(user=None, visitor_id=visitor).update(user=user)
    if moved:
        audit.record("consent.merged_at_login", actor=user, subject=user, data={"records": moved})
    if hasattr(request, _CACHE_ATTRIBUTE):
        delattr(request, _CACHE_ATTRIBUTE)


# --- What the purposes gate ------------------------------------------------------------------------


def marketing_recipients(users):
    """The users (of a queryset) whose current marketing e-mail consent is granted: one query."""
    item = PURPOSES["marketing_email"]
    latest = ConsentRecord.objects.filter(user=OuterRef("pk"), purpose=item.key).order_by("-at", "-id")
    return users.annotate(
        _marketing_granted=Subquery(latest.values("granted")[:1]),
        _marketing_version=Subquery(latest.values("policy_version")[:1]),
    ).filter(_marketing_granted=True, _marketing_version=item.version)


def count_page_view(*, path: str, day: date | None = None) -> None:
    """Add one to today's count of a URL pattern (an update; the row is created once a day)."""
    day = day or timezone.localdate()
    path = path[:200]
    if PageView.objects.filter(day=day, path=path).update(count=F("count") + 1):
        return
    try:
        with transaction.atomic():
            PageView.objects.create(day=day, path=path, count=1)
    except IntegrityError:  # created a moment ago by a concurrent request
        PageView.objects.filter(day=day, path=path).update(count=F("count") + 1)


class PageViewMiddleware:
    """Counts a successful page (GET, HTML, 200) by its URL pattern, only with analytics consent."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if (
            request.method == "GET"
            and response.status_code == 200
            and match is not None
            and not match.view_name.startswith("admin:")
            and response.get("Content-Type", "").startswith("text/html")
            and has_consent(request, "analytics")
        ):
            count_page_view(path="/" + (match.route or ""))
        return response


def context(request) -> dict:
    """Template context: whether to show the banner, and the purposes (shop.settings context_processors)."""
    view_name = getattr(getattr(request, "resolver_match", None), "view_name", "")
    if view_name.startswith("admin:") or view_name == "consent:choices":
        return {"consent_banner": False}
    return {"consent_banner": needs_asking(request), "consent_purposes": PURPOSES.values()}
