"""Saved cards on the shopper's account, under /account/cards/."""

from django.urls import path

from . import views_cards

app_name = "cards"
urlpatterns = [
    path("", views_cards.card_list, name="list"),
    path("<int:method_id>/delete/", views_cards.delete_card, name="delete"),
]
