"""Passwords made of context words are refused, with a message that says why (ASVS 6.2.11)."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from shop.accounts.models import User
from tests.accounts.test_registration import SIGNUP, sign_up

JANE = User(email="jane.marple@stmarymead.example")


@pytest.mark.parametrize(
    ("password", "word", "why"),
    [
        ("Storefront2026!", "storefront", "the name of this shop"),
        ("my-st0r3fr0nt-key-99", "storefront", "the name of this shop"),
        ("Marple!1998-is-here", "marple", "part of your e-mail address"),
        ("Jane-kettle-1998", "jane", "part of your e-mail address"),
        ("stmarymead-forever", "stmarymead", "part of your e-mail address"),
        ("Password-for-2026", "password", "a word anyone would try first"),
    ],
)
def test_a_password_with_a_context_word_is_refused_and_the_message_says_why(password, word, why):
    with pytest.raises(ValidationError) as refused:
        validate_password(password, JANE)

    message = " ".join(refused.value.messages)
    assert f"“{word}”" in message and why in message


@pytest.mark.parametrize("password", ["correct-horse-battery-staple", "violet-kettle-harbour-42"])
def test_a_password_without_context_words_passes(password):
    validate_password(password, JANE)


@pytest.mark.django_db
def test_sign_up_with_the_shop_name_as_password_is_refused_on_the_form(client, solved):
    response = sign_up(client, solved, "newcomer@example.com", password="Storefront2026!")

    assert response.status_code in {200, 400}
    assert "which is the name of this shop" in response.content.decode()
    assert not User.objects.filter(email="newcomer@example.com").exists()
    assert client.get(SIGNUP).status_code == 200
