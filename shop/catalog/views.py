from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from . import selectors
from .models import Category, Product, Store

PAGE_SIZE = 12


def home(request):
    return render(
        request,
        "catalog/home.html",
        {
            "categories": selectors.categories(),
            "featured": selectors.product_list().order_by("-created_at")[:8],
        },
    )


def product_list(request):
    category = None
    if slug := request.GET.get("category"):
        category = get_object_or_404(Category, slug=slug)
    query = request.GET.get("q", "")[:100]
    page = Paginator(selectors.product_list(category=category, query=query), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "catalog/product_list.html",
        {"page": page, "category": category, "query": query, "categories": selectors.categories()},
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
            "availability": selectors.availability(product=product),
        },
    )


def store_list(request):
    return render(request, "catalog/store_list.html", {"stores": Store.objects.all()})
