"""The account security page and the admin's session and lockout tools, from both sides: what
a shopper can do to their own account, and what someone with a stolen session or another
person's ids must not be able to do.

Sessions are real: each test client signs in through the login pages (password, then a code
when the account has an authenticator), so the "active sessions" list is the one a person gets.
"""

import re
import time

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.accounts import roles, services
from shop.accounts.models import BackupCodeDevice, UserSession
from shop.core.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SECURITY = reverse("accounts:security")
ACCOUNT = reverse("accounts:account")
LOGIN = reverse("accounts:login")
ADD = reverse("accounts:add_authenticator")
NEW_CODES = reverse("accounts:new_backup_codes")
END_OTHERS = reverse("accounts:end_other_sessions")

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@pytest.fixture(autouse=True)
def _challenge_solved(settings):
    settings.ALTCHA_VERIFICATION_ENABLED = False


def _unused_code(device) -> str:
    """A code this authenticator has not accepted yet: the current time step, or the next one
    if the current one was just used (a code is refused the second time)."""
    device.refresh_from_db()
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    step = max(generator.t(), device.last_t + 1)
    generator.time = device.t0 + step * device.step
    return f"{generator.token():0{device.digits}d}"


def _sign_in(user, *, device=None, agent=FIREFOX_ON_WINDOWS) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    if device is not None:
        response = client.post(reverse("accounts:login_verify"), {"token": _unused_code(device)})
    assert response.status_code == 302, response.content
    return client


def _is_signed_in(client) -> bool:
    response = client.get(ACCOUNT)
    return response.status_code == 200


def _stale_step_up(client) -> None:
    """The person confirmed their password 11 minutes ago: too long for a sensitive change."""
    session = client.session
    session[services.STEP_UP_AT] = time.time() - 11 * 60
    session.save()


def _enrolled(user) -> tuple[TOTPDevice, list[str]]:
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return device, services.issue_backup_codes(user=user)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _events(action):
    return list(AuditEvent.objects.filter(action=action))


def _own_session(user, client) -> UserSession:
    return UserSession.objects.get(user=user, session_key=client.session.session_key)


# --- The page ---------------------------------------------------------------------------------


def test_the_security_page_is_only_for_signed_in_people(client):
    response = client.get(SECURITY)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_the_account_page_links_to_the_security_page():
    user = UserFactory()
    response = _sign_in(user).get(ACCOUNT)
    assert f'href="{SECURITY}"' in response.content.decode()


def test_the_page_says_two_step_is_off_and_is_never_cached():
    client = _sign_in(UserFactory())
    response = client.get(SECURITY)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    status = re.search(r'data-testid="two-step-status">(.*?)</p>', response.content.decode(), re.S).group(1)
    assert ">Off<" in status
    assert "Turn on two-step sign-in" in response.content.decode()


def test_the_page_shows_the_authenticator_and_how_many_backup_codes_are_left():
    user = UserFactory()
    device, codes = _enrolled(user)
    assert _try_code(user, codes[0]) == 302
    response = _sign_in(user, device=device).get(SECURITY)
    page = response.content.decode()
    assert ">On<" in page
    assert "Authenticator app" in page
    assert re.search(r'data-testid="backup-codes-left">9<', page)


def test_sessions_are_listed_with_browser_and_system_and_this_device_marked():
    user = UserFactory()
    here = _sign_in(user, agent=FIREFOX_ON_WINDOWS)
    _sign_in(user, agent=SAFARI_ON_IPHONE)
    page = here.get(SECURITY).content.decode()
    rows = re.findall(r'<tr data-testid="session">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    assert "Firefox 128 on Windows 10" in rows[0] and "This device" in rows[0]
    assert "Mobile Safari 17 on iOS 17.4" in rows[1] and "(phone)" in rows[1]
    assert "This device" not in rows[1] and "End session" in rows[1]
    assert "End session" not in rows[0]


def test_a_session_that_has_ended_elsewhere_is_not_listed():
    user = UserFactory()
    here = _sign_in(user)
    other = _sign_in(user, agent=SAFARI_ON_IPHONE)
    Session.objects.filter(session_key=other.session.session_key).update(expire_date=timezone.now())
    page = here.get(SECURITY).content.decode()
    assert page.count('data-testid="session"') == 1
    assert "Safari" not in page


def test_another_persons_sessions_are_not_listed():
    user, stranger = UserFactory(), UserFactory()
    here = _sign_in(user)
    _sign_in(stranger, agent=SAFARI_ON_IPHONE)
    assert "Safari" not in here.get(SECURITY).content.decode()


def test_after_a_step_up_this_session_is_still_listed_under_its_new_key():
    """Step-up rotates the session key; the list follows it, so "End session" ends the real one."""
    user = UserFactory()
    here = _sign_in(user)
    other = _sign_in(user, agent=SAFARI_ON_IPHONE)
    before = other.session.session_key
    _stale_step_up(other)
    response = other.post(reverse("accounts:step_up"), {"password": PASSWORD, "next": SECURITY})
    assert response.status_code == 302
    after = other.session.session_key
    assert after != before
    assert UserSession.objects.filter(user=user, session_key=after).exists()
    assert "This device" in other.get(SECURITY).content.decode()

    row = _own_session(user, other)
    here.post(reverse("accounts:end_session", args=[row.pk]))
    assert not _is_signed_in(other)


# --- Step-up guards every change ------------------------------------------------------------


def _actions(device):
    remove = reverse("accounts:remove_authenticator", args=[device.pk])
    return [("get", ADD), ("post", ADD), ("get", NEW_CODES), ("post", NEW_CODES), ("get", remove), ("post", remove)]


def test_without_a_fresh_step_up_every_two_step_change_goes_to_the_step_up_page():
    user = UserFactory()
    device, codes = _enrolled(user)
    client = _sign_in(user, device=device)
    _stale_step_up(client)
    digests = set(BackupCodeDevice.objects.get(user=user).codes.values_list("digest", flat=True))
    for method, url in _actions(device):
        response = getattr(client, method)(url, {"token": _unused_code(device)} if url == ADD else {})
        assert response.status_code == 302, (method, url)
        assert response["Location"].startswith(reverse("accounts:step_up")), (method, url)
        assert f"next={url.replace('/', '%2F')}" in response["Location"]
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()
    assert set(BackupCodeDevice.objects.get(user=user).codes.values_list("digest", flat=True)) == digests
    assert not TOTPDevice.objects.filter(user=user, confirmed=False).exists()


def test_after_the_step_up_the_person_lands_on_the_change_they_asked_for():
    user = UserFactory()
    client = _sign_in(user)
    _stale_step_up(client)
    response = client.get(ADD, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:step_up"))
    response = client.post(reverse("accounts:step_up"), {"password": PASSWORD, "next": ADD})
    assert response["Location"] == ADD
    assert client.get(ADD).status_code == 200


# --- Turning two-step sign-in on --------------------------------------------------------------


def test_a_shopper_turns_on_two_step_sign_in_from_the_security_page(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory()
    client = _sign_in(user)
    elsewhere = _sign_in(user, agent=SAFARI_ON_IPHONE)
    key_before = client.session.session_key

    page = client.get(f"{ADD}?next={SECURITY}")
    assert page.status_code == 200
    assert 'data-testid="totp-secret"' in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{ADD}?next={SECURITY}", {"token": f"{totp(device.bin_key):06d}", "next": SECURITY})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert len(response.context["codes"]) == settings.SHOP_BACKUP_CODE_COUNT
    assert response.context["continue_url"] == SECURITY
    assert "Two-step sign-in is on" in " ".join(_messages(response))
    device.refresh_from_db()
    assert device.confirmed
    # This session is verified by the new device and has a new key; the others are over.
    assert client.session[DEVICE_ID_SESSION_KEY] == device.persistent_id
    assert client.session.session_key != key_before
    assert "This device" in client.get(SECURITY).content.decode()
    assert not _is_signed_in(elsewhere)
    # Told by e-mail, and audited without the code.
    assert [mail.subject for mail in mailoutbox] == [f"{settings.SHOP_NAME}: Two-step sign-in was turned on"]
    (event,) = _events("mfa.enrolled")
    assert event.actor_id == user.pk and event.data["device"] == "totp"
    # The next sign-in asks for the code.
    response = Client().post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert response["Location"].startswith(reverse("accounts:login_verify"))


def test_a_wrong_first_code_leaves_two_step_sign_in_off():
    user = UserFactory()
    client = _sign_in(user)
    client.get(ADD)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = f"{(totp(device.bin_key) + 1) % 1_000_000:06d}"
    response = client.post(ADD, {"token": wrong})
    assert response.status_code == 400
    assert "That code did not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert not _events("mfa.enrolled")


def test_the_enrolment_secret_is_the_one_the_form_confirms():
    """Reloading the page keeps the same secret, so a person who scanned it first can still confirm."""
    user = UserFactory()
    client = _sign_in(user)
    first = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', client.get(ADD).content.decode()).group(1)
    second = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', client.get(ADD).content.decode()).group(1)
    assert first == second
    assert TOTPDevice.objects.filter(user=user, confirmed=False).count() == 1


# --- Backup codes -----------------------------------------------------------------------------


def _try_code(user, code) -> int:
    client = Client()
    client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    # Each wrong code makes the next one wait a second; reset that throttle, so that what refuses
    # a code below is the code itself, not the wait.
    BackupCodeDevice.objects.get(user=user).throttle_reset()
    return client.post(reverse("accounts:login_verify"), {"token": code}).status_code


def test_new_backup_codes_replace_the_old_ones_and_each_works_once():
    user = UserFactory()
    device, old_codes = _enrolled(user)
    client = _sign_in(user, device=device)

    assert "Create new backup codes" in client.get(NEW_CODES).content.decode()
    response = client.post(NEW_CODES)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new_codes = response.context["codes"]
    assert len(new_codes) == settings.SHOP_BACKUP_CODE_COUNT
    assert set(new_codes).isdisjoint(old_codes)
    assert all(code in response.content.decode() for code in new_codes)

    assert _try_code(user, old_codes[0]) == 400
    assert _try_code(user, new_codes[0]) == 302
    assert _try_code(user, new_codes[0]) == 400
    assert _try_code(user, new_codes[1]) == 302
    (event,) = _events("mfa.backup_codes_regenerated")
    assert event.actor_id == user.pk


def test_backup_codes_cannot_be_made_without_an_authenticator():
    client = _sign_in(UserFactory())
    response = client.post(NEW_CODES)
    assert response.status_code == 409
    assert "Set up an authenticator app first" in " ".join(_messages(response))
    assert not BackupCodeDevice.objects.exists()


# --- Removing the authenticator ---------------------------------------------------------------


def test_removing_the_authenticator_turns_two_step_off_emails_and_signs_out_elsewhere(
    mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory()
    device, _ = _enrolled(user)
    client = _sign_in(user, device=device)
    elsewhere = _sign_in(user, device=device, agent=SAFARI_ON_IPHONE)
    remove = reverse("accounts:remove_authenticator", args=[device.pk])

    confirm = client.get(remove)
    assert confirm.status_code == 200
    assert "turns two-step sign-in <strong>off</strong>" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remove, follow=True)

    assert response.redirect_chain == [(SECURITY, 302)]
    assert "Two-step sign-in is off" in " ".join(_messages(response))
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not BackupCodeDevice.objects.filter(user=user).exists()
    assert [mail.subject for mail in mailoutbox] == [f"{settings.SHOP_NAME}: Two-step sign-in was turned off"]
    assert not _is_signed_in(elsewhere)
    assert _is_signed_in(client)
    (event,) = _events("mfa.removed")
    assert event.actor_id == user.pk
    # The next sign-in needs the password only.
    assert Client().post(LOGIN, {"username": user.email, "password": PASSWORD})["Location"] == ACCOUNT


def test_opening_the_remove_page_removes_nothing():
    user = UserFactory()
    device, _ = _enrolled(user)
    client = _sign_in(user, device=device)
    assert client.get(reverse("accounts:remove_authenticator", args=[device.pk])).status_code == 200
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()


def test_staff_cannot_remove_their_last_authenticator():
    staff = UserFactory(is_staff=True)
    device, _ = _enrolled(staff)
    client = _sign_in(staff, device=device)
    remove = reverse("accounts:remove_authenticator", args=[device.pk])

    page = client.get(SECURITY).content.decode()
    assert f'href="{remove}"' not in page
    assert "Staff accounts must keep a second factor" in page
    assert "Remove authenticator</button>" not in client.get(remove).content.decode()

    response = client.post(remove)
    assert response.status_code == 409
    assert "Your account must keep a second factor" in " ".join(_messages(response))
    assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()
    assert BackupCodeDevice.objects.filter(user=staff).exists()
    assert not _events("mfa.removed")


def test_staff_with_two_authenticators_can_remove_one_and_keep_the_other():
    staff = UserFactory(is_staff=True)
    old, _ = _enrolled(staff)
    new = TOTPDevice.objects.create(user=staff, name="New phone", confirmed=True)
    client = _sign_in(staff, device=new)
    response = client.post(reverse("accounts:remove_authenticator", args=[old.pk]))
    assert response.status_code == 302
    assert list(TOTPDevice.objects.filter(user=staff)) == [new]
    assert BackupCodeDevice.objects.filter(user=staff).exists()


def test_when_the_shop_requires_two_step_a_shopper_keeps_their_last_authenticator(settings):
    settings.SHOP_REQUIRE_CUSTOMER_MFA = True
    user = UserFactory()
    device, _ = _enrolled(user)
    client = _sign_in(user, device=device)
    response = client.post(reverse("accounts:remove_authenticator", args=[device.pk]))
    assert response.status_code == 409
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_another_persons_authenticator_cannot_be_removed():
    user, victim = UserFactory(), UserFactory()
    device, _ = _enrolled(user)
    victims_device, _ = _enrolled(victim)
    client = _sign_in(user, device=device)
    remove = reverse("accounts:remove_authenticator", args=[victims_device.pk])
    assert client.get(remove).status_code == 404
    response = client.post(remove)
    assert response.status_code == 404
    assert "not on your account" in " ".join(_messages(response))
    assert TOTPDevice.objects.filter(pk=victims_device.pk).exists()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


# --- Ending sessions --------------------------------------------------------------------------


def test_ending_a_session_signs_that_browser_out_at_its_next_request():
    user = UserFactory()
    here = _sign_in(user)
    there = _sign_in(user, agent=SAFARI_ON_IPHONE)
    assert _is_signed_in(there)

    response = here.post(reverse("accounts:end_session", args=[_own_session(user, there).pk]), follow=True)

    assert response.redirect_chain == [(SECURITY, 302)]
    assert "That session has ended" in " ".join(_messages(response))
    response = there.get(ACCOUNT)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert _is_signed_in(here)
    (event,) = _events("session.ended")
    assert event.actor_id == user.pk


def test_another_persons_session_cannot_be_ended():
    attacker, victim = UserFactory(), UserFactory()
    client = _sign_in(attacker)
    victims_browser = _sign_in(victim)
    target = _own_session(victim, victims_browser)

    response = client.post(reverse("accounts:end_session", args=[target.pk]))

    assert response.status_code == 404
    assert "That session has already ended" in " ".join(_messages(response))
    assert UserSession.objects.filter(pk=target.pk).exists()
    assert _is_signed_in(victims_browser)
    assert not _events("session.ended")


def test_the_session_in_use_is_ended_by_signing_out_not_from_the_list():
    user = UserFactory()
    client = _sign_in(user)
    response = client.post(reverse("accounts:end_session", args=[_own_session(user, client).pk]))
    assert response.status_code == 409
    assert "To end it, sign out" in " ".join(_messages(response))
    assert _is_signed_in(client)


def test_ending_a_session_is_a_post_with_a_csrf_token():
    user = UserFactory()
    there = _sign_in(user, agent=SAFARI_ON_IPHONE)
    target = reverse("accounts:end_session", args=[_own_session(user, there).pk])
    here = _sign_in(user)
    assert here.get(target).status_code == 405
    forged = Client(enforce_csrf_checks=True)
    forged.cookies = here.cookies
    assert forged.post(target).status_code == 403
    assert _is_signed_in(there)


def test_sign_out_everywhere_else_ends_every_other_session_and_keeps_this_one():
    user = UserFactory()
    here = _sign_in(user)
    others = [_sign_in(user, agent=SAFARI_ON_IPHONE), _sign_in(user)]
    bystander = _sign_in(UserFactory())

    response = here.post(END_OTHERS, follow=True)

    assert "Signed out everywhere else (2 sessions)" in " ".join(_messages(response))
    assert not any(_is_signed_in(other) for other in others)
    assert _is_signed_in(here) and _is_signed_in(bystander)
    assert here.get(SECURITY).content.decode().count('data-testid="session"') == 1
    (event,) = _events("session.ended_others")
    assert event.actor_id == user.pk and event.data["count"] == 2


# --- Two-step sign-in required by the shop ----------------------------------------------------


def test_when_required_a_signed_in_shopper_without_a_device_must_enrol_before_anything_else(settings):
    user = UserFactory()
    client = _sign_in(user)  # signed in before the shop made two-step sign-in mandatory
    settings.SHOP_REQUIRE_CUSTOMER_MFA = True

    for url in (ACCOUNT, SECURITY, reverse("orders:cart"), NEW_CODES, "/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(ADD), url
    assert client.post(END_OTHERS).status_code == 302

    response = client.get(f"{ADD}?next={ACCOUNT}")
    assert response.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(f"{ADD}?next={ACCOUNT}", {"token": f"{totp(device.bin_key):06d}", "next": ACCOUNT})
    assert response.status_code == 200 and response.context["continue_url"] == ACCOUNT
    assert _is_signed_in(client)


def test_when_required_an_enrolled_shopper_whose_session_skipped_the_code_signs_in_again(settings):
    settings.SHOP_REQUIRE_CUSTOMER_MFA = True
    user = UserFactory()
    _enrolled(user)
    client = Client()
    client.force_login(user)  # a session that never gave the code
    response = client.get(ACCOUNT)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    assert "_auth_user_id" not in client.session


def test_when_required_sign_in_goes_through_enrolment_and_cannot_skip_it(settings):
    settings.SHOP_REQUIRE_CUSTOMER_MFA = True
    user = UserFactory()
    client = Client()
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert response["Location"].startswith(reverse("accounts:login_enrol"))
    assert client.get(ACCOUNT)["Location"].startswith(LOGIN)


# --- Admin: ending a user's sessions, unlocking sign-in ---------------------------------------


@pytest.fixture
def manager(verified_login):
    person = UserFactory(is_staff=True)
    person.groups.add(Group.objects.get(name=roles.MANAGER))
    client = Client()
    verified_login(client, person)
    return person, client


def test_a_manager_ends_all_sessions_of_a_user_from_the_admin_and_it_is_audited(manager):
    person, admin_client = manager
    shopper = UserFactory()
    browsers = [_sign_in(shopper), _sign_in(shopper, agent=SAFARI_ON_IPHONE)]
    bystander = _sign_in(UserFactory())
    changelist = reverse("admin:accounts_user_changelist")

    page = admin_client.get(changelist).content.decode()
    assert "End all sessions of the selected users" in page

    response = admin_client.post(
        changelist, {"action": "end_all_sessions", "_selected_action": [shopper.pk], "index": 0}, follow=True
    )

    assert "Ended 2 sessions of 1 user" in " ".join(_messages(response))
    assert not any(_is_signed_in(browser) for browser in browsers)
    assert _is_signed_in(bystander)
    (event,) = _events("session.ended_all")
    assert event.actor_id == person.pk
    assert event.subject_id == str(shopper.pk)
    assert event.data == {"count": 2}


def test_staff_without_the_permission_cannot_end_anyones_sessions(verified_login):
    officer = UserFactory(is_staff=True)
    officer.groups.add(Group.objects.get(name=roles.COMPLIANCE))
    admin_client = Client()
    verified_login(admin_client, officer)
    shopper = UserFactory()
    browser = _sign_in(shopper)
    changelist = reverse("admin:accounts_user_changelist")

    assert "End all sessions" not in admin_client.get(changelist).content.decode()
    admin_client.post(changelist, {"action": "end_all_sessions", "_selected_action": [shopper.pk], "index": 0})

    assert _is_signed_in(browser)
    assert not _events("session.ended_all")


def _lock_out(user, ip_address="127.0.0.1") -> AccessAttempt:
    return AccessAttempt.objects.create(
        username=user.email,
        ip_address=ip_address,
        user_agent="",
        http_accept="*/*",
        path_info=LOGIN,
        get_data="",
        post_data="",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
        attempt_time=timezone.now(),
    )


def test_a_manager_unlocks_a_paused_sign_in_and_the_audit_log_says_who(manager):
    person, admin_client = manager
    shopper = UserFactory()
    attempt = _lock_out(shopper)
    assert Client().post(LOGIN, {"username": shopper.email, "password": PASSWORD}).status_code == 429

    changelist = reverse("admin:axes_accessattempt_changelist")
    assert admin_client.get(changelist).status_code == 200
    response = admin_client.post(
        changelist, {"action": "unlock", "_selected_action": [attempt.pk], "index": 0}, follow=True
    )

    assert "Unlocked 1 entry" in " ".join(_messages(response))
    assert not AccessAttempt.objects.exists()
    (event,) = _events("login.unlocked")
    assert event.actor_id == person.pk
    assert event.subject_id == str(shopper.pk)
    assert shopper.email not in str(event.data) and "127.0.0.1" not in str(event.data)
    assert event.data["address"] == services.hash_address("127.0.0.1")
    assert Client().post(LOGIN, {"username": shopper.email, "password": PASSWORD})["Location"] == ACCOUNT


def test_deleting_a_lock_in_the_admin_is_an_audited_unlock_too(manager):
    person, admin_client = manager
    shopper = UserFactory()
    attempt = _lock_out(shopper)
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert admin_client.get(delete).status_code == 200
    admin_client.post(delete, {"post": "yes"})
    assert not AccessAttempt.objects.exists()
    (event,) = _events("login.unlocked")
    assert event.actor_id == person.pk


def test_deleting_locks_in_bulk_audits_each_unlock(manager):
    person, admin_client = manager
    attempts = [_lock_out(UserFactory()), _lock_out(UserFactory(), "203.0.113.9")]
    admin_client.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [a.pk for a in attempts], "post": "yes", "index": 0},
    )
    assert not AccessAttempt.objects.exists()
    assert {event.actor_id for event in _events("login.unlocked")} == {person.pk}
    assert len(_events("login.unlocked")) == 2


def test_staff_without_the_permission_cannot_unlock(verified_login):
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    admin_client = Client()
    verified_login(admin_client, clerk)
    attempt = _lock_out(UserFactory())
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert admin_client.get(changelist).status_code == 403
    admin_client.post(changelist, {"action": "unlock", "_selected_action": [attempt.pk], "index": 0})
    assert (
        admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert not _events("login.unlocked")


def test_managers_can_end_sessions_and_unlock_but_no_role_can_change_users_or_is_superuser():
    for name in roles.ROLE_PERMISSIONS:
        group = Group.objects.get(name=name)
        codes = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert "accounts.change_user" not in codes, name
        assert "auth.change_group" not in codes, name
    manager_codes = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=roles.MANAGER).permissions.select_related("content_type")
    }
    assert {"accounts.delete_usersession", "axes.view_accessattempt", "axes.delete_accessattempt"} <= manager_codes


def test_an_unconfirmed_address_cannot_turn_on_two_step_sign_in(client):
    """Pre-hijack: whoever signed up with someone else's address must not bind an authenticator to it."""
    user = UserFactory(email_verified_at=None)
    client.force_login(user)
    session = client.session
    session[services.STEP_UP_AT] = time.time()
    session.save()
    response = client.get(reverse("accounts:add_authenticator"))
    assert response.status_code == 409
    assert "Confirm your e-mail address first" in response.text
    assert not TOTPDevice.objects.filter(user=user).exists()
