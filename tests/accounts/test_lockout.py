"""Lockout from the attacker's side: guessing passwords for one account, spraying one address
across many accounts, and hiding behind a forged X-Forwarded-For.

Every attempt is a POST to the real sign-in page, as a script would send it; the address is the
REMOTE_ADDR the server sees (or, behind the trusted proxy, the entry that proxy appended).
"""

import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from shop.accounts.lockout import client_ip
from shop.core.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "10.0.0.1"
WRONG = "not-the-password-at-all"
PAUSED = "Sign-in is paused for 15 minutes"


@pytest.fixture(autouse=True)
def _challenge_solved(settings):
    # From 3 failures on, the sign-in form asks for a proof-of-work. A determined attacker pays
    # that in CPU time, so the lockout must hold with the challenge out of the way.
    settings.ALTCHA_VERIFICATION_ENABLED = False


def _sign_in(client, email, password, address=ATTACKER, **extra):
    return client.post(
        reverse("accounts:login"), {"username": email, "password": password}, REMOTE_ADDR=address, **extra
    )


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def _pass_the_cool_off():
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))


def _lock(client, user, address=ATTACKER):
    responses = [_sign_in(client, user.email, WRONG, address) for _ in range(5)]
    assert [r.status_code for r in responses[:4]] == [200] * 4
    return responses[-1]


# --- One account from one address -------------------------------------------------------------


def test_fifth_wrong_password_pauses_sign_in_with_429_and_a_page_that_says_how_long(client):
    user = UserFactory()

    response = _lock(client, user)

    assert response.status_code == 429
    assert PAUSED in response.content.decode()
    assert reverse("accounts:password_reset") in response.content.decode()


def test_sixth_attempt_is_refused_even_with_the_right_password(client):
    user = UserFactory()
    _lock(client, user)

    response = _sign_in(client, user.email, PASSWORD)

    assert response.status_code == 429
    assert PAUSED in response.content.decode()
    assert not _signed_in(client)


def test_the_lock_holds_whatever_case_the_attacker_types_the_address_in(client):
    UserFactory(email="ann@example.com")
    for spelling in ["ann@example.com", "Ann@example.com", "ANN@EXAMPLE.COM", "ann@Example.com", " ann@example.com"]:
        _sign_in(client, spelling, WRONG)

    response = _sign_in(client, "Ann@Example.Com", PASSWORD)

    assert response.status_code == 429
    assert not _signed_in(client)


def test_the_right_password_works_again_once_the_cool_off_has_passed(client):
    user = UserFactory()
    _lock(client, user)
    assert _sign_in(client, user.email, PASSWORD).status_code == 429

    _pass_the_cool_off()
    response = _sign_in(client, user.email, PASSWORD)

    assert response.status_code == 302
    assert _signed_in(client)


def test_the_lock_does_not_reach_the_same_account_from_another_address(client):
    user = UserFactory()
    _lock(client, user, address=ATTACKER)

    response = _sign_in(client, user.email, PASSWORD, address="10.0.0.2")

    assert response.status_code == 302
    assert _signed_in(client)


def test_four_wrong_passwords_do_not_lock_the_account(client):
    user = UserFactory()
    for _ in range(4):
        _sign_in(client, user.email, WRONG)

    assert _sign_in(client, user.email, PASSWORD).status_code == 302


def test_staff_unlock_deleting_the_attempts_lets_the_person_in_again(client):
    user = UserFactory()
    _lock(client, user)

    AccessAttempt.objects.filter(username=user.email).delete()  # what "delete" in the admin does

    assert _sign_in(client, user.email, PASSWORD).status_code == 302


# --- One address across many accounts ---------------------------------------------------------


def _spray(client, failures, address=ATTACKER):
    for n in range(failures):
        _sign_in(client, f"guess{n}@example.com", WRONG, address)


def test_spraying_30_accounts_from_one_address_locks_that_address_for_every_account(client):
    victim = UserFactory()
    _spray(client, 30)

    response = _sign_in(client, victim.email, PASSWORD)

    assert response.status_code == 429
    assert PAUSED in response.content.decode()
    assert not _signed_in(client)


def test_29_failures_across_accounts_do_not_lock_the_address(client):
    victim = UserFactory()
    _spray(client, 29)

    assert _sign_in(client, victim.email, PASSWORD).status_code == 302


def test_a_sprayed_address_does_not_lock_out_anyone_elsewhere(client):
    victim = UserFactory()
    _spray(client, 30)

    assert _sign_in(client, victim.email, PASSWORD, address="10.0.0.2").status_code == 302


def test_a_few_guesses_per_account_still_add_up_to_the_address_limit(client):
    # 4 guesses each on 8 accounts: never 5 for one account, but 32 from the address.
    people = UserFactory.create_batch(8)
    for person in people:
        for _ in range(4):
            _sign_in(client, person.email, WRONG)

    assert _sign_in(client, UserFactory().email, PASSWORD).status_code == 429


# --- Audit and notice -------------------------------------------------------------------------


def _every_value(event: AuditEvent) -> str:
    return " ".join(
        json.dumps(getattr(event, field.attname), default=str).lower() for field in AuditEvent._meta.concrete_fields
    )


def test_failed_logins_and_the_lockout_are_audited_without_the_address_or_the_password(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(email="victim@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _lock(client, user)

    failed = AuditEvent.objects.filter(action="login.failed")
    locked = AuditEvent.objects.filter(action="login.locked_out")
    assert failed.count() == 5
    assert locked.count() == 1
    assert {event.actor_id for event in [*failed, *locked]} == {user.pk}
    for event in [*failed, *locked]:
        values = _every_value(event)
        assert "victim" not in values
        assert "@" not in values
        assert WRONG not in values
        assert ATTACKER not in values  # the client address is stored hashed, never as is


def test_the_account_owner_is_told_by_email_that_sign_in_was_paused(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _lock(client, user)

    assert [message.to for message in mailoutbox] == [[user.email]]
    assert "paused" in mailoutbox[0].subject
    assert WRONG not in mailoutbox[0].body


def test_hammering_a_locked_account_does_not_flood_its_owner_with_notices(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _lock(client, user)
        for _ in range(10):
            assert _sign_in(client, user.email, WRONG).status_code == 429

    assert len(mailoutbox) == 1


def test_a_sprayed_address_does_not_send_notices_to_the_accounts_it_tries_next(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    people = UserFactory.create_batch(5)
    with django_capture_on_commit_callbacks(execute=True):
        _spray(client, 30)
        for person in people:
            assert _sign_in(client, person.email, WRONG).status_code == 429

    assert mailoutbox == []


def test_an_address_lockout_is_audited_once_without_an_account(client):
    _spray(client, 30)

    locked = AuditEvent.objects.get(action="login.locked_out")
    assert locked.actor_id is None
    assert locked.data["scope"] == "address"


# --- The client address behind a reverse proxy ------------------------------------------------


@pytest.fixture
def behind_proxy(settings):
    settings.SHOP_TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.SHOP_TRUSTED_PROXY_COUNT = 1
    settings.SHOP_TRUSTED_PROXY_ADDRESSES = ["127.0.0.1", "192.168.0.0/28"]
    return settings


PROXY = "192.168.0.10"


def _request(**meta):
    return RequestFactory().get("/", REMOTE_ADDR=PROXY, **meta)


def test_behind_the_proxy_the_address_is_the_entry_the_proxy_appended(behind_proxy):
    assert client_ip(_request(HTTP_X_FORWARDED_FOR="203.0.113.7")) == "203.0.113.7"


def test_a_client_cannot_choose_its_address_by_sending_x_forwarded_for_itself(behind_proxy):
    # The client sent "1.2.3.4"; the proxy appended the address it really came from.
    assert client_ip(_request(HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request(HTTP_X_FORWARDED_FOR="1.2.3.4,5.6.7.8 , 203.0.113.7")) == "203.0.113.7"


def test_with_two_trusted_proxies_the_address_is_the_second_from_the_right(behind_proxy):
    behind_proxy.SHOP_TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request(HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7, 10.1.1.1")) == "203.0.113.7"


def test_without_a_configured_proxy_the_header_is_ignored(settings):
    settings.SHOP_TRUSTED_PROXY_HEADER = ""

    assert client_ip(_request(HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")) == PROXY


def test_an_address_that_is_not_an_address_is_never_taken_as_one(behind_proxy):
    placeholder = "0.0.0.0"  # noqa: S104 - what client_ip returns for garbage, never bound to
    assert client_ip(_request(HTTP_X_FORWARDED_FOR="1.2.3.4, <script>")) == placeholder
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="")) == placeholder


def test_a_locked_out_attacker_cannot_escape_by_rotating_a_forged_x_forwarded_for(client, behind_proxy):
    user = UserFactory()
    real = "203.0.113.7"
    for n in range(5):
        _sign_in(client, user.email, WRONG, address=PROXY, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, {real}")

    for n in range(5, 10):
        response = _sign_in(client, user.email, PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, {real}")
        assert response.status_code == 429
    assert not _signed_in(client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {real}


def test_behind_the_proxy_the_lock_is_per_client_not_for_everyone_behind_the_proxy(client, behind_proxy):
    user = UserFactory()
    for _ in range(5):
        _sign_in(client, user.email, WRONG, address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")

    response = _sign_in(client, user.email, PASSWORD, address=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.20")

    assert response.status_code == 302


def test_the_header_is_ignored_when_the_connection_does_not_come_from_the_proxy(behind_proxy):
    direct = RequestFactory().get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert client_ip(direct) == "198.51.100.9"


def test_a_locked_address_cannot_sign_in_by_reaching_a_node_directly_with_a_forged_header(client, behind_proxy):
    """The attack: the address is locked through the proxy; the attacker skips the proxy, names an innocent
    address in X-Forwarded-For, and would be counted (and let in) as that address."""
    user = UserFactory()
    attacker = "198.51.100.9"
    for _ in range(5):
        _sign_in(client, user.email, WRONG, address=attacker)
    assert _sign_in(client, user.email, PASSWORD, address=attacker).status_code == 429

    response = _sign_in(client, user.email, PASSWORD, address=attacker, HTTP_X_FORWARDED_FOR="203.0.113.50")

    assert response.status_code == 429
    assert not _signed_in(client)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {attacker}
