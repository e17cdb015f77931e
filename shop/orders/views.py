from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from shop.accounts import presence
from shop.accounts.lockout import client_ip
from shop.catalog import selectors as catalog
from shop.catalog.models import Product
from shop.risk.device import client_of

from . import dispatch, guest_links, hoarding, lifecycle, pickup, selectors, services
from .forms import AddToCartForm, CheckoutForm, QuantityForm
from .models import Order


def _cart(request, *, create: bool = False):
    """The visitor's cart; with create=True, make one (and remember an anonymous one in the session)."""
    cart = selectors.find_cart(user=request.user, session=request.session)
    if cart is None and create:
        cart = services.open_cart(user=request.user)
        if not request.user.is_authenticated:
            request.session[selectors.SESSION_CART_KEY] = cart.pk
    return cart


def _cart_page(request, *, status=200, form_errors=None):
    view = selectors.cart_view(cart=_cart(request), currency=settings.SHOP_CURRENCY)
    return render(request, "orders/cart.html", {"cart": view, "form_errors": form_errors or {}}, status=status)


@never_cache
def cart_detail(request):
    return _cart_page(request)


def _product_page(request, product, form, *, status):
    """The product page again, with the refused quantity and its message."""
    context = {"product": product, "availability": catalog.availability(product=product), "form": form}
    return render(request, "catalog/product_detail.html", context, status=status)


@require_POST
def cart_add(request, slug):
    product = get_object_or_404(Product.objects.active(), slug=slug)
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        return _product_page(request, product, form, status=400)
    try:
        line = services.add_to_cart(
            cart=_cart(request, create=True), product=product, quantity=form.cleaned_data["quantity"]
        )
    except services.CartError as error:
        form.add_error("quantity", str(error))
        return _product_page(request, product, form, status=409)
    messages.success(
        request, f"Added {form.cleaned_data['quantity']} × {product.name} to your cart ({line.quantity} in cart)."
    )
    return redirect(product.get_absolute_url())


@require_POST
def cart_update(request, product_id):
    cart = _cart(request)
    product = get_object_or_404(Product, pk=product_id)
    if cart is None or not cart.lines.filter(product=product).exists():
        messages.error(request, "That product is not in your cart any more.")
        return redirect("orders:cart")
    form = QuantityForm(request.POST)
    if not form.is_valid():
        return _cart_page(request, status=400, form_errors={product.pk: form.errors["quantity"][0]})
    try:
        services.set_cart_quantity(cart=cart, product=product, quantity=form.cleaned_data["quantity"])
    except services.CartError as error:
        return _cart_page(request, status=409, form_errors={product.pk: str(error)})
    messages.success(request, "Your cart was updated." if form.cleaned_data["quantity"] else f"Removed {product.name}.")
    return redirect("orders:cart")


@require_POST
def cart_remove(request, product_id):
    cart = _cart(request)
    product = get_object_or_404(Product, pk=product_id)
    if cart is not None:
        services.remove_from_cart(cart=cart, product=product)
    messages.success(request, f"Removed {product.name} from your cart.")
    return redirect("orders:cart")


@never_cache
def checkout(request):
    cart = _cart(request)
    view = selectors.cart_view(cart=cart, currency=settings.SHOP_CURRENCY)
    if not view.lines:
        messages.info(request, "Your cart is empty: add a product before checking out.")
        return redirect("orders:cart")
    if view.shortages():
        messages.error(request, "Some quantities in your cart are no longer available. Please adjust them.")
        return redirect("orders:cart")
    placement = _placement(request)
    try:
        hoarding.check_open_orders(user=request.user, placement=placement)
    except services.TooManyOpenOrders as error:
        return _too_many_open_orders(request, placement, error)
    pickup_stores = catalog.stores_for_pickup(lines=view.quantities)
    delivery_store = catalog.store_for_delivery(lines=view.quantities)
    initial = {"email": request.user.email} if request.user.is_authenticated else {}
    form = CheckoutForm(
        request.POST or None,
        pickup_stores=pickup_stores,
        can_deliver=delivery_store is not None,
        needs_challenge=hoarding.needs_challenge(user=request.user, placement=placement),
        initial=initial,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                order = services.place_order(
                    cart=cart,
                    email=form.cleaned_data["email"],
                    fulfillment=form.cleaned_data["fulfillment"],
                    user=request.user,
                    pickup_store=form.cleaned_data["pickup_store"],
                    shipping=form.shipping_address(),
                    alternate_collector=form.cleaned_data["alternate_collector"],
                    placement=placement,
                    client=client_of(request),
                )
            except services.TooManyOpenOrders as error:
                return _too_many_open_orders(request, placement, error)
            except services.OrderError as error:
                form.add_error(None, str(error))
                status = error.status
            else:
                if order.user_id is None:
                    guest_links.grant_in_session(request.session, order.number)
                messages.success(
                    request,
                    f"Thank you! Order {order.number} is placed and its items are reserved for "
                    f"{settings.SHOP_PAYMENT_WINDOW_MINUTES} minutes. Pay now to complete it; "
                    "your receipt follows by e-mail.",
                )
                return redirect("pay:pay", number=order.number)
    fee = {
        kind: services.delivery_fee_minor(fulfillment=kind, subtotal_minor=view.subtotal_minor)
        for kind in Order.Fulfillment.values
    }
    return render(
        request,
        "orders/checkout.html",
        {
            "form": form,
            "cart": view,
            "pickup_stores": pickup_stores,
            "can_deliver": delivery_store is not None,
            "delivery_fee_minor": fee[Order.Fulfillment.DELIVERY],
            "free_delivery_from_minor": settings.SHOP_FREE_DELIVERY_FROM_MINOR,
            "payment_window_minutes": settings.SHOP_PAYMENT_WINDOW_MINUTES,
        },
        status=status,
    )


def _placement(request) -> hoarding.Placement:
    if not request.session.session_key:
        request.session.save()
    return hoarding.Placement(session_key=request.session.session_key, address=client_ip(request))


def _too_many_open_orders(request, placement, error):
    """429: what the limit is, and the visitor's own open orders with a way to pay or cancel each."""
    own = [
        order
        for order in hoarding.open_unpaid_orders(user=request.user, placement=placement).order_by("created_at")[:10]
        if selectors.visible_order(number=order.number, user=request.user, session=request.session) is not None
    ]
    context = {"message": str(error), "open_orders": own}
    response = render(request, "orders/too_many_open_orders.html", context, status=error.status)
    response["Retry-After"] = str(settings.SHOP_PAYMENT_WINDOW_MINUTES * 60)
    return response


@never_cache
@require_POST
def order_cancel(request, number):
    """The shopper cancels their own unpaid order (from the pay page or the order page)."""
    order = _own_order(request, number)
    actor = request.user if request.user.is_authenticated else None
    try:
        order = lifecycle.cancel_unpaid_order(order=order, actor=actor)
    except services.OrderError as error:
        messages.error(request, str(error))
        return redirect(order.get_absolute_url())
    if order.status == Order.Status.CANCELLED:
        messages.success(
            request, f"Order {order.number} is cancelled. Nothing was charged; its items are back on sale."
        )
    else:
        messages.info(request, f"Order {order.number} was paid just now, so it was not cancelled.")
    return redirect(order.get_absolute_url())


def _order_page(request, order, *, reissue_url: str):
    """The order for its owner; while it is ready for pickup, with its codes (never cached: no-store)."""
    context = {
        "order": order,
        "lines": order.lines.all(),
        "carrier_name": dispatch.carrier_name(order.carrier),
        "tracking_url": dispatch.tracking_url(order),
    }
    codes = pickup.codes_for(order) if order.is_pickup else None
    if codes is not None and pickup.id_check_required(order) and presence.must_confirm(request):
        # A valuable pickup: its owner unlocks their passkey first (a stolen, signed-in phone cannot).
        context["pickup_confirm_url"] = presence.confirm_url(next_url=request.get_full_path())
        codes = None
    if codes is not None:
        context.update(
            pickup_codes=codes,
            pickup_qr=pickup.qr_svg_data_uri(codes.qr_token),
            pickup_reissue_url=reissue_url,
            pickup_id_check=pickup.id_check_required(order),
        )
    return render(request, "orders/order_detail.html", context)


def _own_order(request, number):
    order = selectors.visible_order(number=number, user=request.user, session=request.session)
    if order is None:
        # Another person's order and an order that does not exist look the same.
        raise Http404("No such order")
    return order


def _guest_order(token):
    number = guest_links.order_number_from(token)
    order = selectors.order_with_lines(number=number) if number else None
    if order is None or order.user_id is not None:
        raise Http404("This order link is not valid or has expired.")
    return order


@never_cache
def order_detail(request, number):
    order = _own_order(request, number)
    return _order_page(request, order, reissue_url=reverse("orders:pickup_reissue", args=[order.number]))


@never_cache
def guest_order(request, token):
    """The e-mailed link: exchanged for a grant in this session, then the plain order URL."""
    order = _guest_order(token)
    guest_links.grant_in_session(request.session, order.number)
    return redirect(order.get_absolute_url())


def _reissue(request, order):
    actor = request.user if request.user.is_authenticated else None
    try:
        pickup.reissue(order=order, actor=actor)
    except pickup.PickupError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Here are your new pickup codes. The old ones no longer work.")


@never_cache
@require_POST
def pickup_reissue(request, number):
    order = _own_order(request, number)
    _reissue(request, order)
    return redirect(order.get_absolute_url())


@never_cache
@require_POST
def guest_pickup_reissue(request, token):
    # Links (and forms) from before the exchange: grant, renew, and continue at the plain URL.
    order = _guest_order(token)
    guest_links.grant_in_session(request.session, order.number)
    _reissue(request, order)
    return redirect(order.get_absolute_url())
