"""The security dashboard's figures. Each is one function with a fixed number of queries (1 to 4),
whatever the period (30 or 90 days): rows are grouped by day in the database, never one query
per day. Each returns a Figure: the days, one list of numbers per series, and facts in words.

Not shown: the risk engine's fraud figures (built separately) and chargebacks (the shop does not
record disputes yet); the page says so.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from shop.core.models import AuditEvent
from shop.payments.models import Payment, Refund
from shop.privacy.models import DataRequest, RetentionRun

from .models import AuditVerification, DailyCounter, Incident
from .services import counters

PERIODS = (30, 90)


@dataclass
class Figure:
    key: str
    title: str
    days: list[date]
    series: dict[str, list[int]]
    facts: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    unit: str = ""

    @property
    def rows(self):
        """(day, value per series) for the accessible table and the CSV."""
        names = list(self.series)
        return [(day, [self.series[name][index] for name in names]) for index, day in enumerate(self.days)]

    @property
    def totals(self):
        return {name: sum(values) for name, values in self.series.items()}


def period_days(days: int) -> list[date]:
    today = timezone.localdate()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _start(days: list[date]):
    return timezone.make_aware(datetime.combine(days[0], time.min))


def _by_day(queryset, *, date_field: str, group: str | None, days: list[date], names: dict[str, str]):
    """{series label: [count per day]} from one GROUP BY query over (day[, group])."""
    series = {label: [0] * len(days) for label in names.values()}
    index = {day: position for position, day in enumerate(days)}
    keys = ["day", group] if group else ["day"]
    rows = (
        queryset.annotate(day=TruncDate(date_field, tzinfo=timezone.get_current_timezone()))
        .values(*keys)
        .annotate(n=Count("*"))  # COUNT(*): no column beyond the index is read
        .order_by()
    )
    for row in rows:
        label = names.get(row[group]) if group else next(iter(names.values()))
        if label is not None and row["day"] in index:
            series[label][index[row["day"]]] += row["n"]
    return series


def _audit_series(days, names: dict[str, str]):
    events = AuditEvent.objects.filter(created_at__gte=_start(days), action__in=list(names))
    return _by_day(events, date_field="created_at", group="action", days=days, names=names)


def _counter_series(days, names: dict[str, str]):
    series = {label: [0] * len(days) for label in names.values()}
    index = {day: position for position, day in enumerate(days)}
    for row in DailyCounter.objects.filter(day__gte=days[0], name__in=list(names)).values("day", "name", "count"):
        if row["day"] in index:
            series[names[row["name"]]][index[row["day"]]] += row["count"]
    return series


# --- the figures (1-3 queries each) -----------------------------------------------------------


def sign_ins(days: list[date]) -> Figure:
    """1 query: the audit log's sign-in outcomes."""
    series = _audit_series(
        days, {"login.succeeded": "Sign-ins", "login.failed": "Failed sign-ins", "login.locked_out": "Lockouts"}
    )
    return Figure("sign-ins", "Sign-ins, failures and lockouts", days, series)


def challenges(days: list[date]) -> Figure:
    """1 query: proof-of-work challenges handed out and solutions refused (daily counters)."""
    series = _counter_series(
        days, {counters.CHALLENGE_SERVED: "Challenges served", counters.CHALLENGE_FAILED: "Challenges failed"}
    )
    return Figure("challenges", "Proof-of-work challenges", days, series)


def mfa_adoption(days: list[date]) -> Figure:
    """1 query: the share of active shoppers and of active staff with a second factor (a confirmed
    authenticator app or a passkey), and the share with a passkey. Staff must be at 100 %."""
    mfa = Q(totp=True) | Q(passkey=True)
    counts = (
        get_user_model()
        .objects.filter(is_active=True)
        .annotate(
            totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            passkey=Exists(WebAuthnCredential.objects.filter(user=OuterRef("pk"), confirmed=True)),
        )
        .aggregate(
            shoppers=Count("pk", filter=Q(is_staff=False)),
            shoppers_mfa=Count("pk", filter=Q(is_staff=False) & mfa),
            shoppers_passkey=Count("pk", filter=Q(is_staff=False, passkey=True)),
            staff=Count("pk", filter=Q(is_staff=True)),
            staff_mfa=Count("pk", filter=Q(is_staff=True) & mfa),
            staff_passkey=Count("pk", filter=Q(is_staff=True, passkey=True)),
        )
    )
    shopper_share = _percent(counts["shoppers_mfa"], counts["shoppers"])
    staff_share = _percent(counts["staff_mfa"], counts["staff"])
    figure = Figure(
        "mfa",
        "Two-step sign-in adoption",
        [timezone.localdate()],
        {
            "Shoppers with MFA (%)": [shopper_share],
            "Staff with MFA (%)": [staff_share],
            "Shoppers with a passkey (%)": [_percent(counts["shoppers_passkey"], counts["shoppers"])],
        },
        facts=[
            ("Shoppers", f"{counts['shoppers_mfa']} of {counts['shoppers']} ({shopper_share} %)"),
            ("Staff", f"{counts['staff_mfa']} of {counts['staff']} ({staff_share} %)"),
            ("Shoppers with a passkey", f"{counts['shoppers_passkey']} of {counts['shoppers']}"),
            ("Staff with a passkey", f"{counts['staff_passkey']} of {counts['staff']}"),
        ],
        unit="%",
    )
    if counts["staff"] and staff_share < 100:
        missing = counts["staff"] - counts["staff_mfa"]
        figure.alerts.append(f"{missing} member(s) of staff without a second factor: staff must be at 100 %.")
    return figure


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 100


def payments(days: list[date]) -> Figure:
    """3 queries: payments by outcome, 3-D Secure challenges (audit), card-testing refusals (counter)."""
    authorized = [Payment.Status.AUTHORIZED, Payment.Status.CAPTURED, Payment.Status.VOIDED, Payment.Status.REFUNDED]
    outcomes = {status: "Authorized" for status in authorized} | {Payment.Status.DECLINED: "Declined"}
    series = _by_day(
        Payment.objects.filter(created_at__gte=_start(days), status__in=list(outcomes)),
        date_field="created_at",
        group="status",
        days=days,
        names={str(k): v for k, v in outcomes.items()},
    )
    series |= _audit_series(days, {"payment.requires_action": "3-D Secure challenges"})
    series |= _counter_series(days, {counters.CARD_TESTING_REFUSED: "Card-testing attempts refused"})
    return Figure("payments", "Payments", days, series)


def refunds(days: list[date]) -> Figure:
    """1 query: refunds per day, with their total."""
    rows = Refund.objects.filter(created_at__gte=_start(days))
    series = _by_day(rows, date_field="created_at", group=None, days=days, names={"": "Refunds"})
    return Figure(
        "refunds",
        "Refunds and chargebacks",
        days,
        series,
        facts=[("Chargebacks", "not recorded by the shop yet (disputes are handled in the gateway's dashboard)")],
    )


def privacy(days: list[date]) -> Figure:
    """4 queries: requests received and answered in time per day, open/overdue now, retention runs."""
    start = _start(days)
    received = _by_day(
        DataRequest.objects.filter(received_at__gte=start),
        date_field="received_at",
        group=None,
        days=days,
        names={"": "Requests received"},
    )
    answered = _by_day(
        DataRequest.objects.filter(
            finished_at__gte=start, status=DataRequest.Status.DONE, finished_at__lte=F("due_at")
        ),
        date_field="finished_at",
        group=None,
        days=days,
        names={"": "Answered in time"},
    )
    now = timezone.now()
    state = DataRequest.objects.aggregate(
        open=Count("pk", filter=Q(status__in=DataRequest.OPEN)),
        overdue=Count("pk", filter=Q(status__in=DataRequest.OPEN, due_at__lt=now)),
        late=Count("pk", filter=Q(status=DataRequest.Status.DONE, finished_at__gt=F("due_at"))),
    )
    runs = RetentionRun.objects.filter(at__gte=start, dry_run=False).aggregate(
        runs=Count("pk"), rows=Sum("rows_affected")
    )
    figure = Figure(
        "privacy",
        "Data-subject requests",
        days,
        received | answered,
        facts=[
            ("Open requests", str(state["open"])),
            ("Overdue now", str(state["overdue"])),
            ("Answered late (ever)", str(state["late"])),
            ("Retention runs in the period", f"{runs['runs']} runs, {runs['rows'] or 0} rows handled"),
        ],
    )
    if state["overdue"]:
        figure.alerts.append(f"{state['overdue']} data-subject request(s) past their deadline.")
    return figure


def integrity(days: list[date]) -> Figure:
    """3 queries: last chain verification, CSP reports per day, incidents and breaches."""
    last = AuditVerification.objects.order_by("-at").first()
    series = _counter_series(days, {counters.CSP_REPORTED: "CSP violations reported"})
    incidents = list(
        Incident.objects.filter(Q(status__in=[Incident.Status.OPEN, Incident.Status.CONTAINED]) | Q(is_breach=True))
        .order_by("-became_aware_at")
        .only("reference", "title", "status", "is_breach", "became_aware_at", "authority_notified_at")
    )
    open_count = sum(1 for i in incidents if i.status != Incident.Status.CLOSED)
    breaches = [i for i in incidents if i.is_breach]
    if last is None:
        verified = "never: run the verification"
    else:
        result = "intact" if last.intact else f"BROKEN at event #{last.broken_seq}"
        verified = f"{timezone.localtime(last.at):%Y-%m-%d %H:%M}: {result} ({last.checked} events)"
    figure = Figure(
        "integrity",
        "Integrity and incidents",
        days,
        series,
        facts=[("Audit chain last verified", verified), ("Incidents open", str(open_count))],
    )
    figure.breaches = [(breach, breach.clock()) for breach in breaches]
    if last is None or not last.intact or last.at < timezone.now() - timedelta(days=2):
        figure.alerts.append("The audit chain has not been verified intact in the last two days.")
    for breach, clock in figure.breaches:
        if clock["state"] in ("overdue", "late"):
            figure.alerts.append(f"Breach {breach.reference}: {clock['text']}.")
    return figure


FIGURES = {
    "sign-ins": sign_ins,
    "challenges": challenges,
    "mfa": mfa_adoption,
    "payments": payments,
    "refunds": refunds,
    "privacy": privacy,
    "integrity": integrity,
}
