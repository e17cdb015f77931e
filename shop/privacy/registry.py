"""The personal data registry: which models and fields hold personal data, and what export and
erasure do with them (GDPR Art. 30 records of processing, Art. 15/20 export, Art. 17 erasure).

Each app declares its models in `shop/<app>/personal_data.py` with `declare(...)`; the privacy
app imports those modules at start-up (PrivacyConfig.ready). Export and erasure walk
`declarations()`; tests/privacy/test_registry.py fails when a personal-looking field is missing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models

ERASURE_CHOICES = ("delete", "anonymise", "keep")


@dataclass(frozen=True)
class PersonalData:
    """One model's personal data.

    model: "app_label.ModelName".
    fields: the fields that hold personal data (exported, and named in the records of processing).
    subject: ORM path from the model to the user ("" for the user model itself).
    match_email: instead of `subject`, a field that holds the subject's e-mail address
        (django-axes keeps the login name, not a foreign key).
    erasure: "delete", "anonymise" (set `anonymise` field -> value, or callable(row) -> value)
        or "keep" (with `keep_reason`).
    eraser: optional dotted path of `f(*, user, queryset) -> int` that erases instead of a plain
        delete (e.g. detach a saved card at the gateway first).
    export: False for secrets (MFA seeds) that must never leave the database.
    """

    model: str
    fields: tuple[str, ...]
    purpose: str
    legal_basis: str
    subject: str
    erasure: str
    anonymise: dict[str, Any] = field(default_factory=dict)
    keep_reason: str = ""
    export: bool = True
    match_email: str = ""
    eraser: str = ""

    def __post_init__(self):
        if self.erasure not in ERASURE_CHOICES:
            raise ValueError(f"{self.model}: erasure must be one of {ERASURE_CHOICES}")
        if self.erasure == "anonymise" and not self.anonymise:
            raise ValueError(f"{self.model}: anonymise needs the fields and their replacement values")
        if self.erasure == "keep" and not self.keep_reason:
            raise ValueError(f"{self.model}: keeping personal data needs a stated reason")

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def rows_of(self, *, user, email: str) -> models.QuerySet:
        """The subject's rows. `email` is the address the subject had (it may be erased by now)."""
        manager = self.model_class._default_manager
        if self.match_email:
            if not email:
                return manager.none()
            return manager.filter(**{f"{self.match_email}__iexact": email})
        if not self.subject:
            return manager.filter(pk=user.pk)
        return manager.filter(**{self.subject: user})

    def anonymised_values(self, row) -> dict[str, Any]:
        return {name: (value(row) if isinstance(value, Callable) else value) for name, value in self.anonymise.items()}


_registry: dict[str, PersonalData] = {}


def declare(model: str, **kwargs) -> PersonalData:
    entry = PersonalData(model=model, fields=tuple(kwargs.pop("fields")), **kwargs)
    if model in _registry and _registry[model] != entry:
        raise ValueError(f"{model} is declared twice in the personal data registry")
    _registry[model] = entry
    return entry


def declarations() -> list[PersonalData]:
    """Every declaration, the user model last: erasure anonymises the account after the rest."""
    from django.conf import settings

    return sorted(_registry.values(), key=lambda entry: (entry.model == settings.AUTH_USER_MODEL, entry.model))


def declaration_for(model: str) -> PersonalData | None:
    return _registry.get(model)
