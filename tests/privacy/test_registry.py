"""Every field that looks personal is declared in the registry (or knowingly ignored, below)."""

import re

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model

from shop.privacy.registry import declarations

SCANNED_APPS = {"accounts", "catalog", "orders", "payments", "sandbox_gateway", "core", "privacy", "auth", "risk"}
SCANNED_APPS |= {"sessions", "axes", "otp_totp", "operations"}
PERSONAL = re.compile(r"email|name|phone|address|street|city|postal|(^|_)ip(_|$)|user_agent")

# Fields that look personal but are not a customer's personal data. Each says why.
IGNORED = {
    # Ids only: the audit log never stores personal data (shop/core/models.py).
    ("core.AuditEvent", "subject_type"),
    # A shop, not a person.
    ("catalog.Store", "name"),
    ("catalog.Store", "street"),
    ("catalog.Store", "postal_code"),
    ("catalog.Store", "city"),
    ("catalog.Store", "staff"),  # which staff work in a store: employment, not the shop's customers
    # Product data.
    ("catalog.Category", "name"),
    ("catalog.Product", "name"),
    ("orders.OrderLine", "product_name"),
    # The clerk who handed an order over and the manager who refunded: staff accountability.
    ("orders.Order", "collected_by"),
    ("orders.Order", "shipped_by"),
    ("orders.OrderReturn", "recorded_by"),
    ("payments.Refund", "created_by"),
    # The fraud analyst who decided a review, listed an entry or labelled an order: staff accountability.
    ("risk.Review", "decided_by"),
    ("risk.ListEntry", "created_by"),
    ("risk.Label", "created_by"),
    # Staff who filed, worked on or reviewed an incident: accountability in the breach register.
    ("operations.Incident", "responsible"),
    ("operations.Incident", "created_by"),
    ("operations.IncidentEntry", "author"),
    ("operations.SubjectNotification", "reviewed_by"),
    ("operations.DailyCounter", "name"),  # the name of a counter ("challenge.served"), not of a person
    # Django's own tables of roles and permissions.
    ("auth.Group", "name"),
    ("auth.Permission", "name"),
    ("auth.Permission", "codename"),
}


def _personal_fields(model):
    user_model = get_user_model()
    for field in model._meta.get_fields():
        if field.auto_created and not field.concrete:
            continue  # reverse relations are declared on the other side
        related = getattr(field, "related_model", None)
        if related is user_model and model is not user_model or PERSONAL.search(field.name):
            yield field.name


def test_every_personal_looking_field_is_declared():
    declared = {entry.model_class: set(entry.fields) | set(entry.anonymise) for entry in declarations()}
    missing = []
    for model in apps.get_models():
        if model._meta.app_label not in SCANNED_APPS or model._meta.abstract or model._meta.proxy:
            continue
        label = model._meta.label
        for name in _personal_fields(model):
            if (label, name) in IGNORED:
                continue
            if name not in declared.get(model, set()):
                missing.append(f"{label}.{name}")
    assert missing == [], f"Personal-looking fields not in the registry: {missing}"


def test_every_declaration_names_real_fields_and_subject_paths():
    for entry in declarations():
        model = entry.model_class
        names = {field.name for field in model._meta.get_fields()}
        assert set(entry.fields) <= names, entry.model
        assert set(entry.anonymise) <= names, entry.model
        if entry.subject:
            # The ORM path resolves: building the filter raises FieldError if it does not.
            model._default_manager.filter(**{f"{entry.subject}__pk": 0}).query  # noqa: B018
        assert entry.purpose and entry.legal_basis


def test_the_user_model_is_declared_and_erased_last():
    entries = declarations()
    assert entries[-1].model == settings.AUTH_USER_MODEL
    assert entries[-1].erasure == "anonymise"
    assert not [e for e in entries if e.model in ("accounts.BackupCodeDevice", "otp_totp.TOTPDevice") and e.export]


def test_an_undeclared_personal_field_is_caught():
    """The scan itself works: a model with an e-mail column and no declaration is reported."""
    user_model = get_user_model()
    assert "email" in set(_personal_fields(user_model))
    payment_method = apps.get_model("payments.PaymentMethod")
    assert "user" in set(_personal_fields(payment_method))
