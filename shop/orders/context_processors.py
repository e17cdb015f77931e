from . import selectors


def cart_summary(request):
    """The item count in the header; one small query, computed only if a template reads it."""
    if not hasattr(request, "session"):
        return {}
    return {"cart_count": lambda: selectors.cart_item_count(user=request.user, session=request.session)}
