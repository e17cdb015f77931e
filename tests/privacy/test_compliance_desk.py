"""The compliance desk's read-only registers, proof-of-consent export, chain verification and
records of processing: compliance officers (OTP-verified) only, every action audited."""

import json

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from shop.accounts import roles
from shop.core import audit
from shop.core.models import AuditEvent
from shop.privacy import registry, retention
from shop.privacy.models import ConsentRecord, RetentionRun
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
CONSENTS = "/admin/privacy/consentrecord/"
RUNS = "/admin/privacy/retentionrun/"
AUDIT = "/admin/core/auditevent/"
RECORDS = "/admin/records-of-processing/"


def _staff(role):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def officer_client(client, verified_login):
    officer = _staff(roles.COMPLIANCE)
    verified_login(client, officer)
    return client, officer


def _consent(user=None, visitor="", purpose="analytics", granted=True):
    return ConsentRecord.objects.create(
        user=user, visitor_id=visitor, purpose=purpose, policy_version=1, granted=granted, source="banner"
    )


def test_an_officer_sees_consent_records_and_searches_by_email(officer_client):
    client, officer = officer_client
    shopper = UserFactory(email="consent.shopper@example.com")
    _consent(shopper)
    _consent(visitor="v" * 32, purpose="marketing_email", granted=False)
    response = client.get(CONSENTS)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"account {shopper.pk}" in page and "visitor " + "v" * 32 in page
    found = client.get(CONSENTS, {"q": "consent.shopper@example.com"}).content.decode()
    assert f"account {shopper.pk}" in found and "v" * 32 not in found
    assert AuditEvent.objects.filter(action="privacy.consent_records_viewed", actor_id=officer.pk).exists()
    assert client.get(CONSENTS + f"{ConsentRecord.objects.first().pk}/change/").status_code == 200


def test_consent_proof_export_holds_only_that_subjects_records(officer_client):
    client, officer = officer_client
    shopper, other = UserFactory(), UserFactory()
    mine = [_consent(shopper), _consent(shopper, purpose="marketing_email"), _consent(shopper, granted=False)]
    _consent(other)
    _consent(visitor="w" * 32)
    response = client.post(CONSENTS, {"action": "export_proof", "_selected_action": [mine[0].pk]})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="consent-proof-account-{shopper.pk}-')
    proof = json.loads(response.content)
    assert proof["subject"] == {"user_id": shopper.pk}
    assert sorted(r["id"] for r in proof["records"]) == sorted(r.pk for r in mine)
    event = AuditEvent.objects.get(action="privacy.consent_proof_exported", actor_id=officer.pk)
    assert event.data == {"user_id": shopper.pk, "records": 3}
    # By account, from the export URL.
    by_user = json.loads(client.get(CONSENTS + f"export/{other.pk}/").content)
    assert [r["purpose"] for r in by_user["records"]] == ["analytics"]


def test_consent_proof_export_refuses_records_of_two_subjects(officer_client):
    client, _ = officer_client
    a, b = _consent(UserFactory()), _consent(UserFactory())
    response = client.post(CONSENTS, {"action": "export_proof", "_selected_action": [a.pk, b.pk]}, follow=True)
    assert "exactly one subject" in response.content.decode()
    assert not AuditEvent.objects.filter(action="privacy.consent_proof_exported").exists()


def test_an_officer_sees_retention_runs(officer_client):
    client, officer = officer_client
    retention.apply_all(dry_run=True)
    response = client.get(RUNS)
    assert response.status_code == 200
    assert retention.POLICIES[0].name in response.content.decode()
    assert RetentionRun.objects.exists()
    assert AuditEvent.objects.filter(action="privacy.retention_runs_viewed", actor_id=officer.pk).exists()


def test_verify_chain_reports_intact_and_names_a_tampered_event(officer_client):
    client, officer = officer_client
    for n in range(3):
        audit.record("test.event", data={"n": n})
    some = AuditEvent.objects.order_by("seq").first()
    response = client.post(AUDIT, {"action": "verify_chain", "_selected_action": [some.pk]}, follow=True)
    total = AuditEvent.objects.filter(action="audit.chain_verified").get()
    assert total.data["intact"] is True
    assert f"Chain intact: {total.data['checked']} events." in response.content.decode()
    tampered = AuditEvent.objects.filter(action="test.event").order_by("seq")[1]
    with connection.cursor() as cursor:
        # An attacker with the table owner's rights switches PostgreSQL's append-only trigger off first.
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
        AuditEvent.objects.filter(pk=tampered.pk).update(action="test.changed")
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")
    response = client.post(AUDIT, {"action": "verify_chain", "_selected_action": [some.pk]}, follow=True)
    page = response.content.decode()
    assert f"event {tampered.seq} its content no longer matches its hash" in page
    last = AuditEvent.objects.filter(action="audit.chain_verified", actor_id=officer.pk).order_by("-seq").first()
    assert last.data == {"checked": tampered.seq - 1, "intact": False, "broken_seq": tampered.seq}


def test_records_of_processing_list_every_declared_model_and_retention_policy(officer_client):
    client, officer = officer_client
    index = client.get("/admin/").content.decode()
    assert RECORDS in index
    response = client.get(RECORDS)
    assert response.status_code == 200
    page = response.content.decode()
    for entry in registry.declarations():
        assert f'data-model="{entry.model}"' in page
        assert str(entry.legal_basis).split(" (")[0] in page
    for policy in retention.POLICIES:
        assert f'data-policy="{policy.name}"' in page
    assert AuditEvent.objects.filter(action="privacy.records_viewed", actor_id=officer.pk).exists()


def test_managers_may_read_the_records_of_processing(client, verified_login):
    verified_login(client, _staff(roles.MANAGER))
    assert client.get(RECORDS).status_code == 200
    assert client.get(CONSENTS).status_code == 403


def test_a_clerk_gets_403_everywhere_on_the_compliance_desk(client, verified_login):
    clerk = _staff(roles.CLERK)
    shopper = UserFactory()
    record = _consent(shopper)
    verified_login(client, clerk)
    assert RECORDS not in client.get("/admin/").content.decode()
    for url in [CONSENTS, RUNS, AUDIT, RECORDS, CONSENTS + f"export/{shopper.pk}/"]:
        assert client.get(url).status_code == 403, url
    assert client.post(CONSENTS, {"action": "export_proof", "_selected_action": [record.pk]}).status_code == 403
    assert client.post(AUDIT, {"action": "verify_chain", "_selected_action": [1]}).status_code == 403
    assert not AuditEvent.objects.filter(action__in=["privacy.consent_proof_exported", "audit.chain_verified"]).exists()
