import copy

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm, SetPasswordMixin

from .challenge import ChallengeField
from .models import User


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

    def clean(self):
        # After repeated failures the login view adds a `challenge` field. Without a solved
        # challenge the password is not even checked: that is what makes guessing expensive.
        if "challenge" in self._errors:
            return self.cleaned_data
        return super().clean()


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


# --- Sign-up, passwords, e-mail ---------------------------------------------------------------

_LENGTH_ADVICE = "At least 12 characters. A phrase of several words is easy to remember and hard to guess."


def _plain_password_fields(form, first: str, second: str, *, label: str) -> None:
    """Our wording for a new-password pair (Django's help text is an HTML list, too long for a form)."""
    form.fields[first].label = label
    form.fields[first].help_text = _LENGTH_ADVICE
    form.fields[first].error_messages["required"] = "Choose a password."
    form.fields[second].label = f"{label} again"
    form.fields[second].help_text = ""
    form.fields[second].error_messages["required"] = "Type the password a second time."


class SignUpForm(SetPasswordMixin, forms.Form):
    """E-mail, the password twice, an optional (unticked) marketing box, and the challenge.

    It deliberately never says that an address is taken: that answer would tell anyone whether
    a person has an account here. services.sign_up deals with a known address quietly.
    """

    error_messages = {"password_mismatch": "The two passwords are not the same. Type them again."}

    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        error_messages={"required": "Enter your e-mail address."},
    )
    password1, password2 = SetPasswordMixin.create_password_fields()
    marketing = forms.BooleanField(
        label="Send me news and offers by e-mail",
        required=False,
        help_text="Optional. You can stop them at any time.",
    )
    challenge = ChallengeField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _plain_password_fields(self, "password1", "password2", label="Password")

    def clean(self):
        self.validate_passwords()
        # The similarity check compares the password with the address being signed up.
        self.validate_password_for_user(User(email=self.cleaned_data.get("email", "")))
        return super().clean()


class PasswordResetRequestForm(auth_forms.PasswordResetForm):
    """The address to send a reset link to, and the challenge (each request can send an e-mail)."""

    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        error_messages={"required": "Enter the e-mail address of your account."},
    )
    challenge = ChallengeField()


class NewPasswordForm(auth_forms.SetPasswordForm):
    """The new password after a reset link."""

    error_messages = {"password_mismatch": "The two passwords are not the same. Type them again."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _plain_password_fields(self, "new_password1", "new_password2", label="New password")


class ChangePasswordForm(auth_forms.PasswordChangeForm):
    """Current password, then the new one twice."""

    error_messages = {
        "password_mismatch": "The two new passwords are not the same. Type them again.",
        "password_incorrect": "That is not your current password.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = "Current password"
        self.fields["old_password"].error_messages["required"] = "Enter your current password."
        self.fields["old_password"].widget.attrs.pop("autofocus", None)
        _plain_password_fields(self, "new_password1", "new_password2", label="New password")


class EmailChangeForm(forms.Form):
    """The new address and the current password. Whether the new address is taken is not
    checked here: services.request_email_change answers the same either way."""

    email = forms.EmailField(
        label="New e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "Enter the new e-mail address."},
    )
    password = forms.CharField(
        label="Current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": "Enter your current password."},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if email == self.user.email.lower():
            raise forms.ValidationError("That is already the address of your account.")
        return email

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.")
        return password
