"""Passkeys from the attacker's side: what they send, and what they must get back.

The attacker here holds a real assertion or authenticator and bends one thing: where it was made
(origin, RP id), when (replayed), how (no user verification, a cloned counter), or for whom.
"""

import json

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from shop.accounts import passkeys, roles
from shop.core.models import AuditEvent
from tests.accounts.test_passkeys import ADD, signed_in_client
from tests.authenticator import Authenticator, options_on, register
from tests.concurrency import run_at_once
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
VERIFY = reverse("accounts:login_verify")
SIGN_IN = reverse("accounts:passkey_sign_in")
SIGN_IN_OPTIONS = reverse("accounts:passkey_sign_in_options")


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.SHOP_PASSKEY_ORIGIN = "http://localhost:8000"
    settings.SHOP_PASSKEY_RP_ID = "localhost"
    settings.ALTCHA_VERIFICATION_ENABLED = False


def options(client) -> dict:
    return json.loads(client.post(SIGN_IN_OPTIONS).content)


def post_answer(client, answer):
    return client.post(SIGN_IN, {"passkey": json.dumps(answer)})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def failures(reason=None):
    found = AuditEvent.objects.filter(action="passkey.failed")
    return [e for e in found if reason is None or e.data["reason"] == reason]


@pytest.fixture
def victim():
    user = UserFactory()
    authenticator = Authenticator()
    device = register(user, authenticator)
    return user, authenticator, device


@pytest.mark.parametrize(
    "lie",
    [
        {"origin": "https://storefront-login.example.net"},  # a phishing page relaying the ceremony
        {"origin": "http://localhost:8001"},  # same host, another port: another origin
        {"rp_id": "example.net"},  # an assertion scoped to another relying party
    ],
    ids=["phishing-origin", "other-port", "other-rp-id"],
)
def test_an_assertion_made_for_another_origin_or_rp_id_is_refused(client, victim, lie):
    _, authenticator, _ = victim

    response = post_answer(client, authenticator.get(options(client), **lie))

    assert response.status_code == 400
    assert "did not work" in response.content.decode()
    assert not signed_in(client)
    assert failures("invalid")


def test_a_replayed_assertion_is_refused(client, victim):
    _, authenticator, _ = victim
    answer = authenticator.get(options(client))
    assert post_answer(client, answer).status_code == 302
    client.post(reverse("accounts:logout"))

    # The same answer again: in the same session (its challenge was used up)...
    assert post_answer(client, answer).status_code == 400
    # ...and in a new session that has a challenge of its own.
    other = Client()
    options(other)
    assert post_answer(other, answer).status_code == 400
    assert not signed_in(client) and not signed_in(other)
    assert len(failures("no_challenge")) == 1 and len(failures("invalid")) == 1  # the other challenge


def test_an_authenticator_whose_counter_goes_backwards_is_refused_audited_and_reported(
    client, victim, django_capture_on_commit_callbacks
):
    user, authenticator, device = victim
    assert post_answer(client, authenticator.get(options(client), sign_count=7)).status_code == 302
    client.post(reverse("accounts:logout"))

    # A clone of the authenticator, copied when its counter stood at 5.
    with django_capture_on_commit_callbacks(execute=True):
        response = post_answer(client, authenticator.get(options(client), sign_count=5))

    assert response.status_code == 400
    assert "looks like a copy" in response.content.decode()
    assert not signed_in(client)
    (event,) = failures("counter_regressed")
    assert event.subject_id == str(user.pk)
    device.refresh_from_db()
    assert device.sign_count == 7
    assert mail.outbox[-1].to == [user.email] and "copy of one of your passkeys" in mail.outbox[-1].subject


def test_a_counter_that_stands_still_is_refused_too(client, victim):
    _, authenticator, _ = victim
    assert post_answer(client, authenticator.get(options(client), sign_count=3)).status_code == 302
    client.post(reverse("accounts:logout"))

    assert post_answer(client, authenticator.get(options(client), sign_count=3)).status_code == 400
    assert failures("counter_regressed")


def test_user_verification_is_required(client, victim):
    _, authenticator, _ = victim

    response = post_answer(client, authenticator.get(options(client), user_verified=False))

    assert response.status_code == 400
    assert not signed_in(client)


def test_one_accounts_passkey_cannot_pass_another_accounts_second_step(client, victim):
    _, attacker_authenticator, _ = victim  # the attacker's own account and passkey
    target = UserFactory()
    TOTPDevice.objects.create(user=target, name="phone", confirmed=True)
    register(target, Authenticator())
    client.post(LOGIN, {"username": target.email, "password": PASSWORD})  # a stolen password

    answer = attacker_authenticator.get(options_on(client.get(VERIFY)))
    response = client.post(VERIFY, {"passkey": json.dumps(answer)})

    assert response.status_code == 400
    assert not signed_in(client)
    assert failures("other_account")


def test_a_passkey_signs_in_its_own_account_whatever_the_user_handle_claims(client, victim):
    user, authenticator, _ = victim
    other = UserFactory()
    answer = authenticator.get(options(client))
    answer["response"]["userHandle"] = "b3RoZXI"  # "other": the handle is not what decides

    assert post_answer(client, answer).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk) != str(other.pk)


def test_a_passkey_registered_twice_is_refused_with_a_400(victim):
    user, authenticator, _ = victim
    user.email_verified_at = timezone.now()
    user.save()
    client = signed_in_client(user)
    answer = authenticator.create(options_on(client.get(ADD)), credential=authenticator.credentials[-1])

    response = client.post(ADD, {"name": "Copy", "passkey": json.dumps(answer)})

    assert response.status_code == 400
    assert WebAuthnCredential.objects.filter(user=user).count() == 1


def test_an_unknown_or_malformed_passkey_answer_gets_a_400_not_a_500(client):
    options(client)
    assert client.post(SIGN_IN, {"passkey": "{not json"}).status_code == 400
    options(client)
    assert client.post(SIGN_IN, {"passkey": json.dumps({"id": "x"})}).status_code == 400
    assert post_answer(client, Authenticator().get(options(client), credential=_stray())).status_code == 400


def _stray():
    from tests.authenticator import Credential

    return Credential(user_handle=b"nobody")


def test_failed_passkey_attempts_count_towards_the_lockout(client, victim, settings):
    _, authenticator, _ = victim
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_answer(client, authenticator.get(options(client), user_verified=False))

    # Now even a good passkey is refused for a while from this address.
    response = post_answer(client, authenticator.get(options(client)))

    assert response.status_code == 429
    assert not signed_in(client)


# --- The staff policy cannot be skipped -------------------------------------------------------


@pytest.fixture
def clerk_signed_in_with_code(settings):
    settings.SHOP_REQUIRE_STAFF_PASSKEY = True
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    device = TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)
    client = Client()
    client.force_login(clerk)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # verified by a code, not a passkey
    session.save()
    return clerk, client


@pytest.mark.parametrize("path", ["/admin/", "/admin/pickup-desk/", "/admin/orders/order/"])
def test_under_the_staff_policy_no_admin_url_opens_on_a_code(clerk_signed_in_with_code, path):
    _, client = clerk_signed_in_with_code

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/") or response["Location"].startswith(LOGIN)
    # ...and the sign-in page asks again instead of bouncing the verified session back.
    assert client.get(f"{LOGIN}?next={path}").status_code == 200


def test_under_the_staff_policy_a_clerk_with_a_passkey_cannot_use_the_code_instead(settings):
    settings.SHOP_REQUIRE_STAFF_PASSKEY = True
    clerk = UserFactory(is_staff=True)
    app = TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)
    register(clerk, Authenticator())
    client = Client()
    client.post(LOGIN, {"username": clerk.email, "password": PASSWORD})

    response = client.post(VERIFY, {"token": f"{totp(app.bin_key):06d}"})

    assert response.status_code == 400
    assert not signed_in(client)


def test_under_the_staff_policy_the_passkey_opens_the_admin(settings):
    settings.SHOP_REQUIRE_STAFF_PASSKEY = True
    clerk = UserFactory(is_staff=True)
    clerk.groups.add(Group.objects.get(name=roles.CLERK))
    authenticator = Authenticator()
    register(clerk, authenticator)
    client = Client()
    client.post(LOGIN, {"username": clerk.email, "password": PASSWORD})

    answer = authenticator.get(options_on(client.get(VERIFY)))
    client.post(VERIFY, {"passkey": json.dumps(answer)})

    assert client.get("/admin/pickup-desk/").status_code == 200


def test_under_the_staff_policy_staff_keep_their_last_passkey(settings):
    settings.SHOP_REQUIRE_STAFF_PASSKEY = True
    clerk = UserFactory(is_staff=True)
    TOTPDevice.objects.create(user=clerk, name="phone", confirmed=True)
    device = register(clerk, Authenticator())
    with pytest.raises(passkeys.PasskeyError, match="must keep a passkey"):
        passkeys.remove_passkey(request=_request(clerk), user=clerk, device_id=device.pk)
    assert WebAuthnCredential.objects.filter(pk=device.pk).exists()


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().post("/")
    request.user = user
    request.session = Client().session
    return request


# --- Two requests with one assertion at the same instant ----------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_assertion_sent_twice_at_once_signs_in_once(victim):
    _, authenticator, device = victim
    # Both requests carry a session with the same pending challenge (a copied cookie store).
    client = Client()
    answer = authenticator.get(options(client))
    state = client.session[passkeys.SESSION_CEREMONIES]["sign_in"]

    def attempt():
        return passkeys._check_and_count(_request(device.user), state=dict(state), data=answer, user=None)

    results = run_at_once([attempt, attempt])

    outcomes = sorted(str(failure) for _, failure in results)
    assert outcomes == ["None", "counter_regressed"], results
    device.refresh_from_db()
    assert device.sign_count == authenticator.credentials[-1].sign_count
