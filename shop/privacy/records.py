"""The records of processing (GDPR Art. 30), generated from the personal data registry and the
retention policies, so that the page can never drift from what export, erasure and retention do.

Served by the admin site (ShopAdminSite.get_urls), so only active, OTP-verified staff reach it;
on top of that only compliance officers and shop managers (or a superuser) may open it.
"""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from shop.accounts import roles
from shop.core import audit

from . import registry, retention

ROLES = (roles.COMPLIANCE, roles.MANAGER)


def can_view(user) -> bool:
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or user.groups.filter(name__in=ROLES).exists()


def _erasure_rule(entry: registry.PersonalData) -> str:
    if entry.erasure == "delete":
        return "Deleted" + (" (by a custom eraser)" if entry.eraser else "")
    if entry.erasure == "anonymise":
        return "Anonymised: " + ", ".join(sorted(entry.anonymise))
    return f"Kept: {entry.keep_reason}"


def _period(policy: retention.Policy) -> str:
    days = policy.period.days
    if not policy.period:
        return "at expiry"
    if days and not policy.period.seconds:
        return f"{days} days"
    return str(policy.period)


def rows() -> list[dict]:
    return [
        {
            "model": entry.model,
            "verbose_name": entry.model_class._meta.verbose_name_plural,
            "fields": list(entry.fields),
            "purpose": entry.purpose,
            "legal_basis": entry.legal_basis,
            "erasure": _erasure_rule(entry),
            "exported": entry.export,
        }
        for entry in registry.declarations()
    ]


def policies() -> list[dict]:
    return [
        {"name": p.name, "period": _period(p), "action": p.action, "description": p.description}
        for p in retention.POLICIES
    ]


def records_of_processing(request, *, site):
    if not can_view(request.user):
        raise PermissionDenied
    audit.record("privacy.records_viewed", actor=request.user)
    context = {
        **site.each_context(request),
        "title": "Records of processing",
        "declarations": rows(),
        "policies": policies(),
    }
    response = TemplateResponse(request, "admin/privacy/records_of_processing.html", context)
    response["Cache-Control"] = "no-store"
    return response
