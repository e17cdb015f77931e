"""Risk records in the personal-data registry: exported with the person, unlinked at erasure,
deleted after their retention; block entries outlive an erasure until they expire."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shop.privacy import services as privacy
from shop.privacy.registry import declaration_for
from shop.risk import services
from shop.risk.models import ListEntry, RiskAssessment
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_customers_assessments_are_in_their_export(checkout, gateway):
    customer = UserFactory()
    checkout(user=customer, email=customer.email)

    sections = {section["model"]: section for section in privacy.collect(user=customer)}

    assert len(sections["risk.RiskAssessment"]["rows"]) == 1
    assert "legitimate interest" in sections["risk.RiskAssessment"]["legal_basis"]


def test_erasure_unlinks_the_person_and_their_hashes_but_keeps_the_score(checkout, gateway):
    customer = UserFactory()
    checkout(user=customer, email=customer.email)
    entry = declaration_for("risk.RiskAssessment")

    for row in entry.rows_of(user=customer, email=customer.email):
        for name, value in entry.anonymised_values(row).items():
            setattr(row, name, value)
        row.save(update_fields=list(entry.anonymise))

    row = RiskAssessment.objects.get()
    assert row.user_id is None and row.identities == {} and row.shipping_hash == ""
    assert row.score >= 0 and row.reasons is not None


def test_the_nightly_purge_deletes_what_is_past_retention(checkout, gateway, settings):
    checkout()
    services.add_list_entry(kind="email", verdict="block", value="old@example.com", reason="x", days=1, actor=None)
    RiskAssessment.objects.update(created_at=timezone.now() - timedelta(days=settings.RISK_RETENTION_DAYS + 1))
    ListEntry.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    counts = services.purge()

    assert counts["assessments"] == 1 and counts["list_entries"] == 1
    assert not RiskAssessment.objects.exists() and not ListEntry.objects.exists()
    assert services.purge() == {"list_entries": 0, "labels": 0, "reviews": 0, "assessments": 0}
