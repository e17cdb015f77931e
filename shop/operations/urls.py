from django.urls import path

from . import health, views

app_name = "operations"

urlpatterns = [
    path(".well-known/security.txt", views.security_txt, name="security_txt"),
    path("security/", views.security_page, name="security"),
    path("health/live", health.liveness, name="liveness"),
    path("health/ready", health.readiness, name="readiness"),
]
