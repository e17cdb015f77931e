"""The shop's payment page for an order, under /orders/<number>/pay/."""

from django.urls import path

from . import views

app_name = "pay"
urlpatterns = [
    path("orders/<str:number>/pay/", views.pay, name="pay"),
    path("orders/<str:number>/pay/return/<str:key>/", views.pay_return, name="return"),
]
