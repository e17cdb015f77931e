"""Sign-in from the attacker's side: the second factor, the admin, unknown addresses, step-up.

Every sign-in goes through the real pages (password, then code or enrolment), never
`client.login()`: the lockout, audit and session rules only run on that path.
"""

import re
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.module_loading import import_string
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.accounts import roles, services, views
from shop.accounts.models import BackupCode, BackupCodeDevice
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/account/login/"
VERIFY = "/account/login/verify/"
ENROL = "/account/login/enrol/"
ADMIN_URLS = ["/admin/", "/admin/orders/order/", "/admin/core/auditevent/", "/admin/accounts/user/"]


@pytest.fixture(autouse=True)
def _challenge_solved(settings):
    # The proof-of-work challenge after 3 failures is not what these tests are about.
    settings.ALTCHA_VERIFICATION_ENABLED = False


def code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The code the person's authenticator app shows now (or in the next 30-second step)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"


def wrong_code(device: TOTPDevice) -> str:
    valid = {code(device, steps_ahead=n) for n in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def sign_in(client, email, password=PASSWORD, **data):
    return client.post(LOGIN, {"username": email, "password": password, **data})


def give_code(client, token):
    return client.post(VERIFY, {"token": token})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def staff(**kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(Group.objects.get(name=roles.MANAGER))
    return user


# --- The second factor at sign-in -------------------------------------------------------------


def test_after_the_password_an_enrolled_person_is_asked_for_a_code_and_is_not_signed_in_yet(client):
    user = UserFactory()
    enrolled(user)

    response = sign_in(client, user.email)

    assert response.status_code == 302
    assert response.url.startswith(VERIFY)
    assert not signed_in(client)
    assert client.get("/account/").url.startswith(LOGIN)


def test_the_current_code_signs_the_person_in(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)

    response = give_code(client, code(device))

    assert response.status_code == 302
    assert response.url == "/account/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.get("/account/").status_code == 200


def test_a_code_cannot_be_replayed_in_a_second_sign_in(client):
    user = UserFactory()
    device = enrolled(user)
    token = code(device)
    sign_in(client, user.email)
    assert give_code(client, token).status_code == 302

    attacker = Client()
    sign_in(attacker, user.email)
    response = give_code(attacker, token)

    assert response.status_code == 400
    assert "That code did not match" in response.content.decode()
    assert not signed_in(attacker)


def test_a_wrong_code_is_refused(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)

    response = give_code(client, wrong_code(device))

    assert response.status_code == 400
    assert not signed_in(client)


def test_wrong_codes_count_towards_the_lockout(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)

    statuses = []
    for _ in range(5):
        wait_out_the_back_off(device)
        statuses.append(give_code(client, wrong_code(device)).status_code)

    assert statuses == [400, 400, 400, 400, 429]
    assert "Sign-in is paused" in give_code(client, code(device)).content.decode()
    assert not signed_in(client)
    # ...and the password alone no longer gets past the first step from here either.
    assert sign_in(client, user.email).status_code == 429


def wait_out_the_back_off(device):
    """As if the person waited: django-otp refuses codes for 1, 2, 4 ... seconds after a wrong one."""
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)


def test_a_code_sent_during_the_back_off_is_refused_without_counting_as_a_failure(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)
    assert give_code(client, wrong_code(device)).status_code == 400

    hurried = give_code(client, code(device))

    assert hurried.status_code == 429
    assert "Wait a few seconds" in hurried.content.decode()
    assert not signed_in(client)
    assert AccessAttempt.objects.get().failures_since_start == 1
    wait_out_the_back_off(device)
    assert give_code(client, code(device)).status_code == 302


def test_the_code_step_refuses_even_the_right_code_while_the_account_is_locked(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)
    AccessAttempt.objects.create(
        username=user.email, ip_address="127.0.0.1", user_agent="", failures_since_start=5, get_data="", post_data=""
    )

    response = give_code(client, code(device))

    assert response.status_code == 429
    assert not signed_in(client)


def test_a_backup_code_works_once(client):
    user = UserFactory()
    enrolled(user)
    backup = services.issue_backup_codes(user=user)[0]
    sign_in(client, user.email)
    assert give_code(client, backup).status_code == 302
    assert signed_in(client)

    attacker = Client()
    sign_in(attacker, user.email)
    response = give_code(attacker, backup)

    assert response.status_code == 400
    assert not signed_in(attacker)


def test_backup_codes_are_stored_only_as_hashes(client):
    user = UserFactory()
    codes = services.issue_backup_codes(user=user)

    stored = " ".join(
        str(getattr(row, field.attname)).lower()
        for model in (BackupCode, BackupCodeDevice)
        for row in model.objects.all()
        for field in model._meta.concrete_fields
    )
    assert BackupCode.objects.count() == len(codes) == 10
    for plain in codes:
        assert plain.lower() not in stored
        assert plain.replace("-", "").lower() not in stored


def test_the_pending_sign_in_expires_after_five_minutes(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)
    session = client.session
    pending = session[services.PENDING_LOGIN]
    pending["at"] -= 5 * 60 + 1
    session[services.PENDING_LOGIN] = pending
    session.save()

    response = give_code(client, code(device))

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert not signed_in(client)


def test_a_pending_sign_in_younger_than_five_minutes_still_takes_the_code(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)
    session = client.session
    pending = session[services.PENDING_LOGIN]
    pending["at"] -= 4 * 60
    session[services.PENDING_LOGIN] = pending
    session.save()

    assert give_code(client, code(device)).status_code == 302
    assert signed_in(client)


def test_the_code_page_without_a_password_first_sends_back_to_the_sign_in(client):
    user = UserFactory()
    device = enrolled(user)

    response = give_code(client, code(device))

    assert response.url == reverse("accounts:login")
    assert not signed_in(client)


# --- Staff and the admin ----------------------------------------------------------------------


def _ends_at_sign_in(client, url):
    response = client.get(url, follow=True)
    visited = [hop for hop, _ in response.redirect_chain]
    return response.status_code == 200 and response.request["PATH_INFO"] == LOGIN and visited


@pytest.mark.parametrize("has_device", [False, True], ids=["no device", "enrolled"])
def test_a_password_alone_opens_no_admin_page_for_staff(client, has_device):
    user = staff()
    if has_device:
        enrolled(user)

    response = sign_in(client, user.email)

    assert response.url.startswith(ENROL if not has_device else VERIFY)
    for url in ADMIN_URLS:
        assert _ends_at_sign_in(client, url), url


def test_staff_without_a_device_are_sent_to_enrolment_after_the_password(client):
    user = staff()

    response = sign_in(client, user.email, next="/admin/")

    assert response.status_code == 302
    assert response.url.startswith(ENROL)
    assert client.get(response.url).status_code == 200
    assert not signed_in(client)


def test_staff_signed_in_without_a_verified_second_factor_get_no_admin_page(client):
    user = staff()
    enrolled(user)
    client.force_login(user)  # authenticated, but no device verified in this session

    for url in ADMIN_URLS:
        first = client.get(url)
        assert first.status_code == 302, url
        assert _ends_at_sign_in(client, url), url


def test_staff_signed_in_without_a_second_factor_can_sign_in_again_through_both_steps(client):
    user = staff()
    device = enrolled(user)
    client.force_login(user)

    assert client.get(LOGIN + "?next=/admin/").status_code == 200  # the form, not a redirect loop
    sign_in(client, user.email, next="/admin/")
    client.post(VERIFY, {"token": code(device), "next": "/admin/"})

    assert client.get("/admin/").status_code == 200


def test_staff_who_confirm_a_new_authenticator_reach_the_admin(client):
    user = staff()
    sign_in(client, user.email, next="/admin/")
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    response = client.post(ENROL, {"token": code(device), "next": "/admin/"})

    assert response.status_code == 200  # the backup codes, shown once
    assert "/admin/" in response.content.decode()
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/admin/").status_code == 200


def test_staff_who_give_a_wrong_first_code_stay_out_of_the_admin(client):
    user = staff()
    sign_in(client, user.email)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    response = client.post(ENROL, {"token": wrong_code(device)})

    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert _ends_at_sign_in(client, "/admin/")


def test_staff_with_password_and_code_reach_the_admin(client):
    user = staff()
    device = enrolled(user)
    sign_in(client, user.email, next="/admin/")

    response = client.post(VERIFY, {"token": code(device), "next": "/admin/"})

    assert response.url == "/admin/"
    # The very pages a password alone could not open (so those tests prove the factor, not a role).
    for url in ADMIN_URLS:
        assert client.get(url).status_code == 200, url


def test_the_admin_has_no_password_form_of_its_own(client):
    user = staff()
    enrolled(user)

    shown = client.get("/admin/login/")
    posted = client.post("/admin/login/", {"username": user.email, "password": PASSWORD})

    assert shown.status_code == posted.status_code == 302
    assert shown.url.startswith(LOGIN)
    assert posted.url.startswith(LOGIN)
    assert not signed_in(client)


# --- Nothing tells whether an address has an account ------------------------------------------


def _page_without(response, email):
    """The page as the attacker compares it: minus the address they typed and per-response tokens."""
    page = response.content.decode().replace(email, "EMAIL")
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
    return re.sub(r'nonce="[^"]+"', "", page)


def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(client):
    UserFactory(email="known@example.com")

    known = sign_in(client, "known@example.com", "wrong-password-here")
    unknown = sign_in(client, "nobody@example.com", "wrong-password-here")

    assert known.status_code == unknown.status_code == 200
    assert "do not match an account" in known.content.decode()
    assert _page_without(known, "known@example.com") == _page_without(unknown, "nobody@example.com")


# --- Step-up ----------------------------------------------------------------------------------


def _signed_in_shopper(client):
    user = UserFactory()
    sign_in(client, user.email)
    assert signed_in(client)
    return user


def _age_step_up(client, seconds):
    session = client.session
    session[services.STEP_UP_AT] = time.time() - seconds
    session.save()


def test_step_up_with_the_password_makes_the_session_fresh(client):
    _signed_in_shopper(client)
    _age_step_up(client, 11 * 60)

    response = client.post(reverse("accounts:step_up"), {"password": PASSWORD, "next": "/account/"})

    assert response.status_code == 302
    assert response.url == "/account/"
    assert time.time() - client.session[services.STEP_UP_AT] < 5


def test_step_up_for_an_enrolled_person_needs_the_code_as_well(client):
    user = UserFactory()
    device = enrolled(user)
    sign_in(client, user.email)
    give_code(client, code(device))
    _age_step_up(client, 11 * 60)

    without_code = client.post(reverse("accounts:step_up"), {"password": PASSWORD})
    with_code = client.post(reverse("accounts:step_up"), {"password": PASSWORD, "token": code(device, steps_ahead=1)})

    assert without_code.status_code == 400
    assert with_code.status_code == 302
    assert time.time() - client.session[services.STEP_UP_AT] < 5


def test_a_wrong_password_at_step_up_is_refused(client):
    _signed_in_shopper(client)
    _age_step_up(client, 11 * 60)

    response = client.post(reverse("accounts:step_up"), {"password": "not-my-password"})

    assert response.status_code == 400
    assert time.time() - client.session[services.STEP_UP_AT] > 10 * 60


def test_wrong_passwords_at_step_up_count_towards_the_lockout(client):
    user = _signed_in_shopper(client)

    statuses = [client.post(reverse("accounts:step_up"), {"password": "not-my-password"}).status_code for _ in range(5)]

    assert statuses == [400, 400, 400, 400, 429]
    assert client.post(reverse("accounts:step_up"), {"password": PASSWORD}).status_code == 429
    client.post(reverse("accounts:logout"))
    assert sign_in(client, user.email).status_code == 429


def _protected_request(user, *, step_up_age):
    from django.conf import settings

    request = RequestFactory().get("/account/delete/")
    session: SessionBase = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    if step_up_age is not None:
        session[services.STEP_UP_AT] = time.time() - step_up_age
    request.session = session
    request.user = user
    request._messages = FallbackStorage(request)
    return request


@views.step_up_required
def _protected(request):
    return HttpResponse("the protected page")


def test_a_session_that_stepped_up_11_minutes_ago_is_sent_to_step_up_again():
    user = UserFactory()

    response = _protected(_protected_request(user, step_up_age=11 * 60))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:step_up"))
    assert "next=%2Faccount%2Fdelete%2F" in response.url
    assert not services.step_up_is_fresh(_protected_request(user, step_up_age=11 * 60))


def test_a_session_that_never_stepped_up_is_sent_to_step_up():
    response = _protected(_protected_request(UserFactory(), step_up_age=None))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:step_up"))


def test_a_session_that_stepped_up_9_minutes_ago_gets_the_page():
    response = _protected(_protected_request(UserFactory(), step_up_age=9 * 60))

    assert response.status_code == 200
    assert response.content == b"the protected page"


def test_a_step_up_protected_page_sends_a_stranger_to_the_sign_in():
    from django.contrib.auth.models import AnonymousUser

    response = _protected(_protected_request(AnonymousUser(), step_up_age=0))

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


def test_the_admins_password_change_goes_through_the_shops_own_page(client, verified_login):
    verified_login(client, UserFactory(is_staff=True))
    response = client.get("/admin/password_change/")
    assert response.status_code == 302 and response.url == reverse("accounts:password_change")


def test_signing_out_of_the_admin_ends_the_session_on_the_server(client, verified_login):
    from django.contrib.sessions.backends.cached_db import SessionStore

    verified_login(client, UserFactory(is_staff=True))
    key = client.session.session_key
    assert client.post("/admin/logout/").status_code == 302
    assert not SessionStore(session_key=key).exists(key)
