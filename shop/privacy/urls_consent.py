from django.urls import path

from . import views_consent

app_name = "consent"
urlpatterns = [
    path("privacy/choices/", views_consent.choices, name="choices"),
    path("privacy/consent/", views_consent.banner, name="banner"),
    path("account/privacy/consent/", views_consent.account_consent, name="account"),
    path("account/privacy/consent/<slug:key>/", views_consent.account_consent_change, name="account_change"),
]
