"""The audit log from the side of someone who wants to rewrite history, and of the officer who checks it."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from shop.core import audit
from shop.core.models import GENESIS_HASH, AuditEvent
from tests.concurrency import run_at_once
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_URL = "/admin/core/auditevent/"


def _record_events(n: int) -> list[AuditEvent]:
    return [audit.record("test.event", data={"n": i}) for i in range(1, n + 1)]


@contextmanager
def _as_table_owner():
    """Tamper the way an attacker would: on PostgreSQL with the append-only trigger switched off.

    SQLite has no trigger, so there a plain UPDATE/DELETE is all it takes. ALTER TABLE is
    transactional on PostgreSQL: the test's rollback restores the trigger whatever happens.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
        yield
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")
    else:
        yield


def _broken_seq() -> int:
    checked, broken = audit.verify()
    assert broken is not None, f"verify() called a tampered log intact ({checked} events)"
    return broken.seq


# --- Appending and verifying --------------------------------------------------------------------


def test_recorded_events_form_a_chain_numbered_from_one():
    events = _record_events(5)

    stored = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == GENESIS_HASH
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.prev_hash == before.hash
    assert len({e.hash for e in stored}) == 5
    assert [e.hash for e in events] == [e.hash for e in stored]


def test_an_intact_log_verifies_with_the_number_of_events_checked():
    _record_events(4)

    assert audit.verify() == (4, None)


def test_an_empty_log_verifies():
    assert audit.verify() == (0, None)


def test_verify_command_reports_an_intact_log():
    _record_events(3)
    out = StringIO()

    call_command("verify_audit_log", stdout=out)

    assert "intact" in out.getvalue()
    assert "3 event" in out.getvalue()


def test_verify_command_fails_and_names_the_first_broken_event():
    _record_events(5)
    with _as_table_owner():
        AuditEvent.objects.filter(seq=3).update(action="login.succeeded")

    with pytest.raises(CommandError, match=r"NOT intact: event #3 .*altered"):
        call_command("verify_audit_log", stdout=StringIO())


def test_data_of_every_json_kind_still_verifies_after_a_round_trip_through_the_database():
    """What is hashed at record() must be exactly what verify() reads back, on either database."""
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    audit.record(
        "test.kinds",
        data={
            "amount": Decimal("12.50"),
            "when": when,
            7: "int key",
            "nested": {"zeta": [1, 2.5, None, True], "alpha": 'ä ✓ "quoted"'},
            "big": 10**20,
            "float_big": 1e20,
            "float_e16": 1e16,
            "float_huge": 1.5e300,
            "float_whole": 2.0,
            "float_small": 1e-7,
            "negative_zero": -0.0,
        },
    )

    assert audit.verify() == (1, None)


# --- Tampering is detected ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"action": "order.refunded"},
        {"data": {"n": 99}},
        {"actor_id": 4242},
        {"created_at": F("created_at") + timedelta(seconds=1)},
        {"subject_type": "orders.order"},
        {"subject_id": "1"},
    ],
    ids=["action", "data", "actor_id", "created_at", "subject_type", "subject_id"],
)
def test_changing_any_field_of_a_middle_event_is_detected_at_that_event(change):
    _record_events(5)

    with _as_table_owner():
        assert AuditEvent.objects.filter(seq=3).update(**change) == 1

    checked, broken = audit.verify()
    assert broken is not None
    assert broken.seq == 3
    assert "altered" in broken.reason
    assert checked == 2


def test_rewriting_an_events_hash_to_match_its_new_content_breaks_the_next_link():
    _record_events(5)
    with _as_table_owner():
        AuditEvent.objects.filter(seq=3).update(action="tampered")
        forged = AuditEvent.objects.get(seq=3)
        AuditEvent.objects.filter(seq=3).update(hash=audit.compute_hash(forged))

    assert _broken_seq() == 4


def test_deleting_a_middle_event_is_detected_at_the_missing_position():
    _record_events(5)
    with _as_table_owner():
        AuditEvent.objects.filter(seq=3).delete()

    checked, broken = audit.verify()
    assert broken is not None
    assert (checked, broken.seq) == (2, 3)


def test_deleting_the_first_event_is_detected():
    _record_events(3)
    with _as_table_owner():
        AuditEvent.objects.filter(seq=1).delete()

    assert _broken_seq() == 1


def test_deleting_the_newest_events_is_detected_by_the_chain_head():
    _record_events(5)
    with _as_table_owner():
        AuditEvent.objects.filter(seq__gte=4).delete()

    checked, broken = audit.verify()
    assert broken is not None
    assert (checked, broken.seq) == (3, 4)
    assert "newest" in broken.reason


def test_deleting_every_event_is_detected_while_the_chain_head_remembers_them():
    _record_events(3)
    with _as_table_owner():
        AuditEvent.objects.all().delete()

    assert _broken_seq() == 1


def test_swapping_two_events_is_detected_at_the_first_of_them():
    _record_events(5)
    with _as_table_owner():
        AuditEvent.objects.filter(seq=2).update(seq=1000)
        AuditEvent.objects.filter(seq=3).update(seq=2)
        AuditEvent.objects.filter(seq=1000).update(seq=3)

    assert _broken_seq() == 2


def test_renumbering_events_to_close_a_gap_is_detected():
    _record_events(5)
    with _as_table_owner():
        AuditEvent.objects.filter(seq=3).delete()
        for seq in (4, 5):
            AuditEvent.objects.filter(seq=seq).update(seq=seq - 1)

    assert _broken_seq() == 3


def test_recording_continues_the_chain_after_a_verified_log():
    _record_events(2)
    assert audit.verify() == (2, None)

    event = audit.record("test.later")

    assert event.seq == 3
    assert audit.verify() == (3, None)


# --- The database itself refuses rewrites (PostgreSQL) --------------------------------------------


@pytest.mark.postgres
def test_database_refuses_to_update_an_audit_event():
    event = audit.record("login.failed", data={"attempt": 1})

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="login.succeeded")

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.hash) == ("login.failed", event.hash)


@pytest.mark.postgres
def test_database_refuses_to_delete_an_audit_event():
    event = audit.record("login.failed")

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk, hash=event.hash).exists()
    assert audit.verify() == (1, None)


@pytest.mark.postgres
def test_table_owner_who_disables_the_trigger_is_still_caught_by_verify():
    _record_events(5)
    target = AuditEvent.objects.get(seq=2)

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER core_auditevent_append_only")
        cursor.execute("UPDATE core_auditevent SET data = %s WHERE id = %s", ['{"n": 1000}', target.pk])
        cursor.execute("ALTER TABLE core_auditevent ENABLE TRIGGER core_auditevent_append_only")

    assert AuditEvent.objects.get(pk=target.pk).data == {"n": 1000}
    assert _broken_seq() == 2
    # And the trigger is back: the next rewrite is refused again.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=target.pk).update(data={"n": 2})


# --- Concurrent writers never fork the chain (PostgreSQL) -----------------------------------------

WRITERS = 8
EVENTS_PER_WRITER = 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_append_one_unbroken_chain():
    def write(writer: int) -> None:
        for i in range(EVENTS_PER_WRITER):
            audit.record("test.concurrent", data={"writer": writer, "i": i})

    outcomes = run_at_once([partial(write, w) for w in range(WRITERS)])
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]

    assert not errors, errors
    total = WRITERS * EVENTS_PER_WRITER
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == list(range(1, total + 1))
    prev_hashes = [e.prev_hash for e in events]
    assert len(set(prev_hashes)) == total, "two events claim the same predecessor: the chain forked"
    assert audit.verify() == (total, None)
    written = {(e.data["writer"], e.data["i"]) for e in events}
    assert written == {(w, i) for w in range(WRITERS) for i in range(EVENTS_PER_WRITER)}


# --- What an event stores -------------------------------------------------------------------------


def test_an_event_stores_the_actors_id_and_the_subjects_type_and_id_only():
    user = UserFactory(email="ann.secret@example.com", first_name="Annabel")
    product = ProductFactory()

    event = audit.record("product.viewed", actor=user, subject=product, data={"source": "test"})

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_id == user.pk
    assert (stored.subject_type, stored.subject_id) == ("catalog.product", str(product.pk))
    everything = " ".join(str(getattr(stored, f.name)) for f in AuditEvent._meta.fields)
    assert "ann.secret" not in everything
    assert "Annabel" not in everything


def test_an_event_without_actor_or_subject_stores_empty_references():
    from django.contrib.auth.models import AnonymousUser

    event = audit.record("system.retention_run", actor=AnonymousUser())

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_id is None
    assert (stored.subject_type, stored.subject_id) == ("", "")
    assert stored.data == {}


# --- The admin shows the log and nothing else -----------------------------------------------------


@pytest.fixture
def superuser_client(client, verified_login):
    verified_login(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def test_superuser_can_read_the_audit_log_in_the_admin(superuser_client):
    event = audit.record("order.placed", data={"total_minor": 1234})

    listing = superuser_client.get(ADMIN_URL)
    detail = superuser_client.get(f"{ADMIN_URL}{event.pk}/change/")

    assert listing.status_code == 200
    assert "order.placed" in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()


def test_admin_search_for_a_non_numeric_actor_is_not_a_server_error(superuser_client):
    audit.record("order.placed")

    response = superuser_client.get(ADMIN_URL, {"q": "order"})

    assert response.status_code == 200
    assert "order.placed" in response.content.decode()


def test_nobody_can_add_an_audit_event_through_the_admin(superuser_client):
    response = superuser_client.post(f"{ADMIN_URL}add/", {"seq": 1, "action": "forged", "hash": "f" * 64})

    assert superuser_client.get(f"{ADMIN_URL}add/").status_code == 403
    assert response.status_code == 403
    assert not AuditEvent.objects.exists()


def test_nobody_can_change_an_audit_event_through_the_admin(superuser_client):
    event = audit.record("login.failed")

    response = superuser_client.post(
        f"{ADMIN_URL}{event.pk}/change/", {"action": "login.succeeded", "seq": event.seq, "data": "{}"}
    )

    assert response.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "login.failed"
    assert audit.verify() == (1, None)


def test_nobody_can_delete_an_audit_event_through_the_admin(superuser_client):
    event = audit.record("login.failed")

    assert superuser_client.get(f"{ADMIN_URL}{event.pk}/delete/").status_code == 403
    assert superuser_client.post(f"{ADMIN_URL}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = superuser_client.post(
        ADMIN_URL, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )

    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert audit.verify() == (1, None)
