from django.urls import path

from . import views

app_name = "orders"
urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<slug:slug>/", views.cart_add, name="cart_add"),
    path("cart/lines/<int:product_id>/", views.cart_update, name="cart_update"),
    path("cart/lines/<int:product_id>/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:number>/", views.order_detail, name="order_detail"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="order_cancel"),
    path("orders/<str:number>/pickup-codes/", views.pickup_reissue, name="pickup_reissue"),
    path("orders/guest/<str:token>/", views.guest_order, name="guest_order"),
    path("orders/guest/<str:token>/pickup-codes/", views.guest_pickup_reissue, name="guest_pickup_reissue"),
]
