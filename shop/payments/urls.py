from django.urls import path

from . import views_webhooks

app_name = "payments"
urlpatterns = [
    path("webhooks/<slug:gateway>/", views_webhooks.webhook, name="webhook"),
]
