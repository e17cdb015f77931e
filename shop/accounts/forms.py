import copy

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, labelled for e-mail addresses. It passes the request to authenticate()."""

    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    remember = forms.BooleanField(
        label="Keep me signed in on this device for 14 days", required=False, help_text="Not on shared computers."
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail address and password do not match an account. Check both and try again.",
    }


class TokenForm(forms.Form):
    """A 6-digit code from the authenticator app, or a backup code."""

    token = forms.CharField(
        label="Code",
        max_length=20,
        strip=True,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
        error_messages={"required": "Enter the code from your authenticator app."},
    )


class EnrolForm(forms.Form):
    token = forms.CharField(
        label="Code from your app",
        max_length=6,
        min_length=6,
        help_text="After adding the account, your app shows a 6-digit code. Enter it to confirm.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
        error_messages={
            "required": "Enter the 6-digit code from your app.",
            "min_length": "The code has 6 digits.",
            "max_length": "The code has 6 digits.",
        },
    )


class StepUpForm(forms.Form):
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": "Enter your password."},
    )

    def __init__(self, *args, needs_token: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_token:
            self.fields["token"] = copy.deepcopy(TokenForm.base_fields["token"])
