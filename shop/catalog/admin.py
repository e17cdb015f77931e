from django.contrib import admin
from django.db.models import Sum

from shop.core.templatetags.money import money

from .models import Category, Product, Stock, Store


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


class StockInline(admin.TabularInline):
    model = Stock
    extra = 0
    autocomplete_fields = ["store"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "price", "is_active", "units_in_stock", "updated_at"]
    list_filter = ["is_active", "category"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["category"]
    inlines = [StockInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(units=Sum("stock__quantity"))

    @admin.display(description="price", ordering="price_minor")
    def price(self, obj):
        return money(obj.price_minor, obj.currency)

    @admin.display(description="units in stock", ordering="units")
    def units_in_stock(self, obj):
        return obj.units or 0


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "pickup_enabled", "ships_orders"]
    list_filter = ["pickup_enabled", "ships_orders", "city"]
    search_fields = ["name", "city", "postal_code"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["staff"]


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ["product", "store", "quantity"]
    list_editable = ["quantity"]
    list_filter = ["store", "product__category"]
    search_fields = ["product__name", "store__name"]
    list_select_related = ["product", "store"]
    # Raw ids, not autocomplete: Django's autocomplete widget looks up whatever value a form or a
    # ?store= link carries and fails with a 500 on anything but an id; the raw-id widget shows it as
    # not found, and the form says the choice is not valid.
    raw_id_fields = ["product", "store"]
