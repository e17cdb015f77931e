"""Catalogue pages. What is the same for every visitor is cached by fragment in the templates,
keyed by the catalogue version (shop.catalog.services); querysets are handed to the templates
unevaluated, so a cached fragment costs no query. Nothing personal is cached: the header (cart
badge, sign-in state), the consent banner, the CSRF token and the CSP nonce are rendered on
every response, outside the fragments."""

from django.http import Http404, QueryDict
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

from . import selectors, services
from .forms import ProductFilterForm
from .models import Product, Store
from .paging import ProductPage, page_number

PAGE_SIZE = 12


def home(request):
    return render(
        request,
        "catalog/home.html",
        {
            "categories": selectors.categories(),
            "featured": selectors.product_list(sort="newest")[:8],
        },
    )


def product_list(request):
    version = services.catalogue_version()
    navigation = selectors.navigation(version=version)
    data = request.GET.copy()
    data["q"] = data.get("q", "")[:100]  # a longer search is cut, as the search box's maxlength does
    form = ProductFilterForm(data, navigation=navigation)
    if not form.is_valid():
        if "category" in form.errors:
            raise Http404("No such category")
        return render(
            request,
            "catalog/product_list.html",
            {"form": form, "navigation": navigation, "query": request.GET.get("q", "")[:100]},
            status=400,
        )
    selection = form.selection()
    kept = form.querystring()
    # Render the sidebar from the normalised filters its cache key is made of ("5.0" and "5" share one).
    form = ProductFilterForm(QueryDict(kept), navigation=navigation)
    form.is_valid()
    number = page_number(request.GET.get("page"))
    products = SimpleLazyObject(lambda: selectors.product_list(**selection))
    return render(
        request,
        "catalog/product_list.html",
        {
            "form": form,
            "navigation": navigation,
            "category": selection["category"],
            "query": selection["query"],
            "store": selection["in_stock_at"],
            "filters": kept,
            "filters_amp": f"{kept}&" if kept else "",
            "page": ProductPage(products, number, PAGE_SIZE),
            "page_number": number,
            # A callable: the template calls it only inside the fragment it caches.
            "total": lambda: selectors.product_list(**selection).count(),
            "catalogue_version": version,
        },
    )


def product_detail(request, slug):
    try:
        product = selectors.active_product(slug=slug)
    except Product.DoesNotExist:
        raise Http404("No such product") from None
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "availability": SimpleLazyObject(lambda: selectors.availability(product=product)),
        },
    )


def store_list(request):
    return render(request, "catalog/store_list.html", {"stores": Store.objects.all()})
