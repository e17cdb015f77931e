from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("", views.requests_page, name="requests"),
    path("export/", views.request_export, name="request_export"),
    path("delete/", views.request_erasure, name="request_erasure"),
    path("export/<int:request_id>/download/", views.download, name="download"),
]
