from django.urls import path

from . import views

app_name = "sandbox_gateway"
urlpatterns = [
    path("fields/", views.card_fields, name="fields"),
    path("tokens/", views.create_token, name="tokens"),
    path("3ds/<str:reference>/", views.three_d_secure, name="three_d_secure"),
]
