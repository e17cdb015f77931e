from django.contrib import admin, messages

from shop.core.templatetags.money import money

from . import pickup, services
from .models import Order, OrderLine


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["product_name", "quantity", "unit_price_minor"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders change only through services (status transitions, stock); the admin reads them."""

    list_display = ["number", "created_at", "status", "fulfillment", "store", "total", "email"]
    list_filter = ["status", "fulfillment", "store", "created_at"]
    search_fields = ["=number", "email"]
    date_hierarchy = "created_at"
    list_select_related = ["store"]
    inlines = [OrderLineInline]
    actions = ["mark_ready_for_pickup", "cancel_orders"]
    readonly_fields = [f.name for f in Order._meta.fields]

    @admin.display(description="total", ordering="total_minor")
    def total(self, obj):
        return money(obj.total_minor, obj.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark ready for pickup (e-mails the shopper their pickup code)", permissions=["change"])
    def mark_ready_for_pickup(self, request, queryset):
        """Paid pickup orders of the user's stores (Shop managers: all) become ready; codes are issued."""
        done = 0
        for order in queryset.select_related("store"):
            try:
                pickup.mark_ready(order=order, actor=request.user)
                done += 1
            except services.OrderError as error:
                self.message_user(request, str(error), messages.WARNING)
        if done:
            self.message_user(
                request, f"Marked {done} order(s) ready for pickup; the shoppers are e-mailed their pickup codes."
            )

    @admin.action(description="Cancel selected orders and return their stock", permissions=["change"])
    def cancel_orders(self, request, queryset):
        cancelled = 0
        for order in queryset:
            try:
                services.cancel_order(order=order, actor=request.user, reason="cancelled in admin")
                cancelled += 1
            except services.IllegalTransition as error:
                self.message_user(request, str(error), messages.WARNING)
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} order(s); their stock is back on the shelf.")
