"""The proof-of-work challenge: what a bot gets without solving it, and at sign-in after failures."""

import re

import pytest

from shop.accounts.challenge import MAX_NUMBER
from shop.accounts.lockout import address_failures
from tests.accounts.conftest import challenge_on, solve
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/account/login/"
TRY_AGAIN = "Please wait for the automatic check to finish, then send the form again."


def sign_in(client, email, password=PASSWORD, **data):
    return client.post(LOGIN, {"username": email, "password": password, **data})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail_to_sign_in(client, times):
    for _ in range(times):
        sign_in(client, "nobody@example.com", "wrong-password")


def test_sign_in_asks_for_no_challenge_before_three_failures(client):
    user = UserFactory()
    fail_to_sign_in(client, 2)

    assert "data-challenge" not in client.get(LOGIN).content.decode()
    sign_in(client, user.email)
    assert signed_in(client)


def test_after_three_failures_a_password_without_the_challenge_is_not_even_checked(client):
    user = UserFactory()
    fail_to_sign_in(client, 3)
    failures = address_failures("127.0.0.1")

    right = sign_in(client, user.email)
    wrong = sign_in(client, user.email, "another-guess")

    assert not signed_in(client)
    assert right.content.decode().count(TRY_AGAIN) == wrong.content.decode().count(TRY_AGAIN) > 0
    # Unchecked: the answer says nothing about the guess, and no attempt was counted.
    assert "do not match an account" not in wrong.content.decode()
    assert address_failures("127.0.0.1") == failures


def test_after_three_failures_a_solved_challenge_lets_the_person_in(client):
    user = UserFactory()
    fail_to_sign_in(client, 3)

    response = sign_in(client, user.email, challenge=solve(challenge_on(client.get(LOGIN))))

    assert response.status_code == 302
    assert signed_in(client)


def test_after_three_failures_a_solved_challenge_with_a_wrong_password_still_fails(client):
    user = UserFactory()
    fail_to_sign_in(client, 3)

    response = sign_in(client, user.email, "wrong-password", challenge=solve(challenge_on(client.get(LOGIN))))

    assert not signed_in(client)
    assert "do not match an account" in response.content.decode()


def test_the_challenge_is_labelled_announced_and_carries_no_third_party_script(client, solved):
    page = client.get("/account/signup/").content.decode()

    assert '<label for="id_challenge">Automatic check</label>' in page
    assert re.search(r'<output id="id_challenge"[^>]*aria-live="polite"', page)
    assert "Checking your browser…" in page
    assert "altcha.min.js" not in page and "<altcha-widget" not in page
    assert '<script src="/static/js/challenge.js"' in page


def test_the_challenge_is_small_enough_for_a_browser(client):
    puzzle = challenge_on(client.get("/account/password-reset/"))

    assert puzzle["algorithm"] == "SHA-256"
    assert puzzle["max_number"] == MAX_NUMBER <= 100_000


def test_every_page_view_gets_its_own_challenge(client):
    first = challenge_on(client.get("/account/signup/"))
    second = challenge_on(client.get("/account/signup/"))

    assert first["challenge"] != second["challenge"]


def test_the_page_after_the_third_failure_already_carries_the_challenge(client):
    fail_to_sign_in(client, 2)

    third = sign_in(client, "nobody@example.com", "wrong-password")

    assert "data-challenge" in third.content.decode()
    assert TRY_AGAIN not in third.content.decode()
