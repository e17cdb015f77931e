"""Sessions from the attacker's side: a planted session key, a stolen cookie after sign-out, an
unattended browser, and sessions left behind when the password is reset.

Time passes by moving the clocks stored in the session back (services.LAST_SEEN_AT,
services.AUTHENTICATED_AT), exactly as if the person had walked away.
"""

import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils.module_loading import import_string
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.accounts import roles, services
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
ACCOUNT = reverse("accounts:account")


@pytest.fixture(autouse=True)
def _challenge_solved(settings):
    settings.ALTCHA_VERIFICATION_ENABLED = False


def _store():
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")()


def _exists(session_key) -> bool:
    return _store().exists(session_key)


def _key(client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def _code(device) -> str:
    return f"{totp(device.bin_key):06d}"


def _sign_in(client, user, *, device=None, remember=False, next_url=""):
    data = {"username": user.email, "password": PASSWORD, "next": next_url}
    if remember:
        data["remember"] = "on"
    response = client.post(LOGIN, data)
    if device is not None:
        response = client.post(reverse("accounts:login_verify"), {"token": _code(device), "next": next_url})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    return response


def _signed_in_as(client, user) -> bool:
    return client.session.get("_auth_user_id") == str(user.pk)


def _move_clock_back(client, key, by: timedelta):
    session = client.session
    session[key] = session[key] - by.total_seconds()
    session.save()


# --- The key rotates at sign-in ---------------------------------------------------------------


def test_the_session_key_changes_at_the_password_and_again_at_the_code():
    user = UserFactory()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    planted = client.session.session_key  # e.g. fixed by an attacker through a crafted link

    client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    after_password = _key(client)
    client.post(reverse("accounts:login_verify"), {"token": _code(device)})
    after_code = _key(client)

    assert len({planted, after_password, after_code}) == 3
    assert not _exists(planted)
    assert not _exists(after_password)
    assert _signed_in_as(client, user)


def test_the_session_key_changes_at_sign_in_without_a_second_factor():
    user = UserFactory()
    client = Client()
    planted = client.session.session_key

    _sign_in(client, user)

    assert _key(client) != planted
    assert not _exists(planted)


def test_whoever_planted_the_session_key_is_not_signed_in_with_it():
    user = UserFactory()
    victim, attacker = Client(), Client()
    planted = victim.session.session_key
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted

    _sign_in(victim, user)

    assert attacker.get(ACCOUNT).url.startswith(LOGIN)


def test_the_session_key_changes_at_step_up():
    client = Client()
    _sign_in(client, UserFactory())
    before = _key(client)

    assert client.post(reverse("accounts:step_up"), {"password": PASSWORD}).status_code == 302

    assert _key(client) != before
    assert not _exists(before)
    assert client.get(ACCOUNT).status_code == 200


# --- Sign-out ends the session on the server --------------------------------------------------


def test_sign_out_deletes_the_session_on_the_server(client):
    user = UserFactory()
    _sign_in(client, user)
    key = _key(client)
    assert _exists(key)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert not _exists(key)


def test_a_cookie_copied_before_sign_out_no_longer_works_after_it(client):
    user = UserFactory()
    _sign_in(client, user)
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = _key(client)
    assert thief.get(ACCOUNT).status_code == 200

    client.post(reverse("accounts:logout"))

    assert thief.get(ACCOUNT).url.startswith(LOGIN)


def test_sign_out_is_not_a_link_a_third_party_can_trigger(client):
    _sign_in(client, UserFactory())

    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.get(ACCOUNT).status_code == 200


# --- Idle and absolute limits -----------------------------------------------------------------


def test_a_shopper_idle_for_more_than_two_hours_is_signed_out_at_the_next_request(client):
    user = UserFactory()
    _sign_in(client, user)
    key = _key(client)
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(hours=2, minutes=1))

    response = client.get(ACCOUNT)

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    assert not _exists(key)
    assert not _signed_in_as(client, user)


def test_a_shopper_idle_for_less_than_two_hours_stays_signed_in(client):
    user = UserFactory()
    _sign_in(client, user)
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(hours=1, minutes=59))

    assert client.get(ACCOUNT).status_code == 200
    assert time.time() - client.session[services.LAST_SEEN_AT] < 5  # the request counted as activity


def test_a_busy_shopper_is_still_signed_out_twelve_hours_after_signing_in(client):
    user = UserFactory()
    _sign_in(client, user)
    _move_clock_back(client, services.AUTHENTICATED_AT, timedelta(hours=12, minutes=1))

    assert client.get(ACCOUNT).url.startswith(LOGIN)
    assert not _signed_in_as(client, user)


def test_a_session_signed_in_without_the_clocks_still_gets_the_idle_limit(client):
    # A session from before these limits existed (or from any other sign-in path) carries no
    # clocks; its first request starts them instead of exempting it for ever.
    user = UserFactory()
    client.force_login(user)
    assert client.get(ACCOUNT).status_code == 200
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(hours=2, minutes=1))

    assert client.get(ACCOUNT).url.startswith(LOGIN)
    assert not _signed_in_as(client, user)


def _staff_signed_in(client):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    _sign_in(client, user, device=device, next_url="/admin/")
    assert client.get("/admin/").status_code == 200
    return user


def test_staff_idle_for_31_minutes_are_signed_out(client):
    user = _staff_signed_in(client)
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(minutes=31))

    response = client.get("/admin/")

    assert response.status_code == 302
    assert not _signed_in_as(client, user)


def test_staff_idle_for_29_minutes_stay_signed_in(client):
    _staff_signed_in(client)
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(minutes=29))

    assert client.get("/admin/").status_code == 200


def test_staff_cannot_stay_signed_in_for_14_days_by_ticking_remember_me(client):
    user = UserFactory(is_staff=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    _sign_in(client, user, device=device, remember=True)
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(minutes=31))

    client.get(ACCOUNT)

    assert not _signed_in_as(client, user)


def test_a_remembered_shopper_is_not_signed_out_after_three_idle_hours(client):
    user = UserFactory()
    _sign_in(client, user, remember=True)
    _move_clock_back(client, services.LAST_SEEN_AT, timedelta(hours=3))
    _move_clock_back(client, services.AUTHENTICATED_AT, timedelta(hours=3))

    assert client.get(ACCOUNT).status_code == 200
    assert _signed_in_as(client, user)


def test_a_remembered_shopper_is_signed_out_after_14_days(client):
    user = UserFactory()
    _sign_in(client, user, remember=True)
    _move_clock_back(client, services.AUTHENTICATED_AT, timedelta(days=14, minutes=1))

    assert client.get(ACCOUNT).url.startswith(LOGIN)
    assert not _signed_in_as(client, user)


def test_only_a_remembered_session_outlives_the_browser(client):
    _sign_in(client, UserFactory(), remember=True)
    remembered = client.cookies[settings.SESSION_COOKIE_NAME]
    other = Client()
    _sign_in(other, UserFactory())
    forgotten = other.cookies[settings.SESSION_COOKIE_NAME]

    assert abs(int(remembered["max-age"]) - timedelta(days=14).total_seconds()) < 5
    assert forgotten["max-age"] == ""  # a browser-session cookie


# --- A password reset ends every other session ------------------------------------------------


def _reset_password(client, user, new_password, mailoutbox, capture):
    with capture(execute=True):  # the e-mail leaves after the request's transaction commits
        client.post(reverse("accounts:password_reset"), {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/account/password-reset/[^/\s]+/[^/\s]+/)", mailoutbox[-1].body).group(1)
    form_page = client.get(link, follow=True)
    set_password_url = form_page.redirect_chain[-1][0]
    with capture(execute=True):
        response = client.post(set_password_url, {"new_password1": new_password, "new_password2": new_password})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new_password)


def test_a_password_reset_ends_every_session_of_the_account(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory()
    laptop, thief, owner_resetting = Client(), Client(), Client()
    _sign_in(laptop, user)
    _sign_in(thief, user)
    keys = [_key(laptop), _key(thief)]

    _reset_password(
        owner_resetting, user, "a brand new passphrase 2026", mailoutbox, django_capture_on_commit_callbacks
    )

    assert not any(_exists(key) for key in keys)
    assert laptop.get(ACCOUNT).url.startswith(LOGIN)
    assert thief.get(ACCOUNT).url.startswith(LOGIN)
    assert "_auth_user_id" not in owner_resetting.session  # a reset never signs anyone in
