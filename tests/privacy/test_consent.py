"""Consent: proof, withdrawal as easy as giving and effective at once, a new text asks again, and
each purpose gating what it says (the page-view count, the newsletter)."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client

from shop.accounts import services as account_services
from shop.core.models import AuditEvent
from shop.privacy import consent
from shop.privacy.models import ConsentRecord, PageView
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOME = "/"
BANNER = "/privacy/consent/"
CHOICES = "/privacy/choices/"
ACCOUNT = "/account/privacy/consent/"


def views_of_home() -> int:
    return sum(PageView.objects.filter(path="/").values_list("count", flat=True))


def has_banner(response) -> bool:
    return "data-consent-banner" in response.content.decode()


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


def csrf_token(client, url=HOME) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


# --- Banner -------------------------------------------------------------------------------------


def test_first_visit_shows_the_banner_with_equal_buttons_and_sets_nothing(client):
    response = client.get(HOME)

    page = response.content.decode()
    assert has_banner(response)
    accept = re.search(r'<button[^>]*value="accept_all"[^>]*>', page).group(0)
    reject = re.search(r'<button[^>]*value="reject_all"[^>]*>', page).group(0)
    assert re.search(r'class="[^"]*"', accept).group(0) == re.search(r'class="[^"]*"', reject).group(0)
    assert f'href="{CHOICES}"' in page  # "Choose", and the footer link
    assert "Privacy choices" in page
    assert "sessionid" not in response.cookies  # no session, no visitor id before a choice
    assert not PageView.objects.exists() and not ConsentRecord.objects.exists()


def test_accept_all_without_javascript_records_proof_and_hides_the_banner(csrf_client):
    token = csrf_token(csrf_client)
    response = csrf_client.post(BANNER, {"csrfmiddlewaretoken": token, "choice": "accept_all", "next": "/products/"})

    assert response.status_code == 302 and response["Location"] == "/products/"
    records = ConsentRecord.objects.all()
    assert {(r.purpose, r.granted, r.source, r.policy_version) for r in records} == {
        ("marketing_email", True, "banner", 1),
        ("analytics", True, "banner", 1),
    }
    assert all(r.user_id is None and len(r.visitor_id) == 32 for r in records)
    assert AuditEvent.objects.filter(action="consent.granted").count() == 2
    assert not has_banner(csrf_client.get(HOME))


def test_reject_all_without_javascript_counts_nothing(csrf_client):
    token = csrf_token(csrf_client)
    csrf_client.post(BANNER, {"csrfmiddlewaretoken": token, "choice": "reject_all"})

    assert set(ConsentRecord.objects.values_list("granted", flat=True)) == {False}
    response = csrf_client.get(HOME)
    assert not has_banner(response)
    assert views_of_home() == 0


def test_the_banner_refuses_a_post_without_csrf_token(csrf_client):
    response = csrf_client.post(BANNER, {"choice": "accept_all"})
    assert response.status_code == 403
    assert not ConsentRecord.objects.exists()


def test_an_unknown_choice_or_a_foreign_next_url_is_not_followed(client):
    response = client.post(BANNER, {"choice": "everything"})
    assert response.status_code == 302 and response["Location"] == CHOICES
    assert not ConsentRecord.objects.exists()

    response = client.post(BANNER, {"choice": "reject_all", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_script_gets_an_answer_without_a_redirect(client):
    response = client.post(BANNER, {"choice": "accept_all"}, headers={"X-Requested-With": "consent.js"})
    assert response.status_code == 200 and response.json() == {"saved": True}


def test_choices_page_records_each_purpose(client):
    client.post(CHOICES, {"analytics": "on"})

    choices = consent.current_choices(visitor=client.session[consent.VISITOR_SESSION_KEY])
    assert choices["analytics"].granted and choices["analytics"].source == "choices"
    assert choices["marketing_email"].granted is False


# --- Analytics: counted only with current consent -----------------------------------------------


def test_withdrawal_stops_the_page_view_count_at_once_and_is_recorded(client):
    user = UserFactory()
    client.force_login(user)
    client.get(HOME)
    assert views_of_home() == 0  # no choice yet: not counted

    client.post(f"{ACCOUNT}analytics/", {"action": "grant"})
    client.get(HOME)
    client.get(HOME)
    assert views_of_home() == 2

    response = client.post(f"{ACCOUNT}analytics/", {"action": "withdraw"}, follow=True)
    assert response.redirect_chain == [(ACCOUNT, 302)]
    assert "Analytics: consent withdrawn." in response.content.decode()
    client.get(HOME)
    assert views_of_home() == 2
    latest = ConsentRecord.objects.filter(user=user, purpose="analytics").first()
    assert latest.granted is False and latest.source == "account"
    assert AuditEvent.objects.filter(action="consent.refused", actor_id=user.pk).exists()


def test_page_views_are_counted_by_url_pattern_not_by_url(client):
    client.post(BANNER, {"choice": "accept_all"})
    client.get("/account/login/")
    client.get("/account/login/?next=/secret-order-link/")

    assert list(PageView.objects.values_list("path", "count")) == [("/account/login/", 2)]


def test_a_new_policy_version_asks_again(client, monkeypatch):
    client.post(BANNER, {"choice": "accept_all"})
    client.get(HOME)
    assert views_of_home() == 1 and not has_banner(client.get(HOME))

    changed = consent.Purpose(**{**consent.PURPOSES["analytics"].__dict__, "version": 2})
    monkeypatch.setitem(consent.PURPOSES, "analytics", changed)

    response = client.get(HOME)
    assert has_banner(response)
    assert views_of_home() == 2  # the count before; this visit was not counted
    client.post(BANNER, {"choice": "accept_all"})
    assert ConsentRecord.objects.filter(purpose="analytics", policy_version=2, granted=True).count() == 1


def test_the_visitors_choices_join_the_account_at_login(client):
    user = UserFactory()
    client.post(BANNER, {"choice": "accept_all"})

    client.force_login(user)

    assert ConsentRecord.objects.filter(user=user).count() == 2
    assert consent.current_choices(user=user)["analytics"].granted
    assert not has_banner(client.get(HOME))


def test_the_account_page_needs_a_login(client):
    assert client.get(ACCOUNT).status_code == 302
    assert client.post(f"{ACCOUNT}analytics/", {"action": "grant"}).status_code == 302
    assert not ConsentRecord.objects.exists()


def test_an_unknown_purpose_is_a_404(client):
    client.force_login(UserFactory())
    assert client.post(f"{ACCOUNT}profiling/", {"action": "grant"}).status_code == 404


# --- Sign-up and the newsletter -----------------------------------------------------------------


def test_sign_up_records_the_marketing_choice(rf):
    request = rf.post("/account/signup/")
    account_services.sign_up(request=request, email="yes@example.com", password="x" * 20, marketing_opt_in=True)
    account_services.sign_up(request=request, email="no@example.com", password="x" * 20, marketing_opt_in=False)

    yes = ConsentRecord.objects.get(user__email="yes@example.com")
    no = ConsentRecord.objects.get(user__email="no@example.com")
    assert (yes.purpose, yes.granted, yes.source) == ("marketing_email", True, "signup")
    assert (no.purpose, no.granted, no.source) == ("marketing_email", False, "signup")


def test_the_newsletter_goes_only_to_people_whose_consent_is_current(tmp_path, mailoutbox):
    def choose(user, granted, version=1):
        ConsentRecord.objects.create(
            user=user, purpose="marketing_email", policy_version=version, granted=granted, source="account"
        )

    consenting, withdrawn, refused, never, old_text, unconfirmed = UserFactory.create_batch(6)
    choose(consenting, True)
    choose(withdrawn, True)
    choose(withdrawn, False)
    choose(refused, False)
    choose(old_text, True, version=0)
    choose(unconfirmed, True)
    unconfirmed.email_verified_at = None
    unconfirmed.save()
    body = tmp_path / "news.txt"
    body.write_text("New mugs are in.")

    call_command("send_newsletter", "--subject", "News", "--body-file", str(body), stdout=io.StringIO())

    assert [message.to for message in mailoutbox] == [[consenting.email]]
    assert mailoutbox[0].subject == "News" and mailoutbox[0].body == "New mugs are in."
    assert AuditEvent.objects.filter(action="newsletter.sent", data__recipients=1).exists()
