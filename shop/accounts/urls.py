from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_passkeys, views_registration, views_security

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("login/enrol/", views.login_enrol, name="login_enrol"),
    path("login/passkey/", views_passkeys.sign_in, name="passkey_sign_in"),
    path("login/passkey/options/", views_passkeys.sign_in_options, name="passkey_sign_in_options"),
    path("login/passkey/enrol/", views_passkeys.login_enrol_passkey, name="login_enrol_passkey"),
    path("logout/", views.logout, name="logout"),
    path("confirm/", views.step_up, name="step_up"),
    path("security/", views_security.security, name="security"),
    path("security/authenticator/add/", views_security.add_authenticator, name="add_authenticator"),
    path(
        "security/authenticator/<int:device_id>/remove/",
        views_security.remove_authenticator,
        name="remove_authenticator",
    ),
    path("security/passkeys/add/", views_passkeys.add_passkey, name="add_passkey"),
    path("security/passkeys/<int:device_id>/remove/", views_passkeys.remove_passkey, name="remove_passkey"),
    path("passkey/confirm/", views_passkeys.confirm_presence, name="passkey_confirm"),
    path("security/backup-codes/new/", views_security.new_backup_codes, name="new_backup_codes"),
    path("security/sessions/<int:session_id>/end/", views_security.end_session, name="end_session"),
    path("security/sessions/end-others/", views_security.end_other_sessions, name="end_other_sessions"),
    path("signup/", views_registration.sign_up, name="signup"),
    path("signup/sent/", views_registration.signup_done, name="signup_done"),
    path("verify/<str:token>/", views_registration.verify_email, name="verify_email"),
    path("resend-verification/", views_registration.resend_verification, name="resend_verification"),
    path("password/", views_registration.change_password, name="password_change"),
    path("email/", views_registration.change_email, name="email_change"),
    path("email/sent/", views_registration.email_change_done, name="email_change_done"),
    path("email/confirm/<str:token>/", views_registration.confirm_email_change, name="email_change_confirm"),
    path("password-reset/", views_registration.password_reset, name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path("password-reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("", views.account, name="account"),
]
