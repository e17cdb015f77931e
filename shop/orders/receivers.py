"""At login, the anonymous visitor's cart joins the account's cart."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from . import selectors, services
from .models import Cart


@receiver(user_logged_in)
def merge_anonymous_cart(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    cart_id = request.session.pop(selectors.SESSION_CART_KEY, None)
    anonymous = Cart.objects.filter(pk=cart_id, user=None).first() if cart_id else None
    if anonymous is None:
        return
    notes = services.merge_carts(source=anonymous, target=services.open_cart(user=user))
    for note in notes:
        messages.warning(request, note)
