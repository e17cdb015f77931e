from django.utils.functional import SimpleLazyObject

from . import selectors


def cart_summary(request):
    """The item count in the header: one small query, run only if a template reads it, at most once."""
    if not hasattr(request, "session") or not hasattr(request, "user"):
        return {}
    return {
        "cart_count": SimpleLazyObject(lambda: selectors.cart_item_count(user=request.user, session=request.session))
    }
