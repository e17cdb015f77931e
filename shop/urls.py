from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from shop.core import views as core_views

admin.site.site_header = f"{settings.SHOP_NAME} administration"
admin.site.site_title = settings.SHOP_NAME

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/cards/", include("shop.payments.urls_cards")),
    path("account/privacy/", include("shop.privacy.urls")),
    path("", include("shop.privacy.urls_consent")),
    path("account/", include("shop.accounts.urls")),
    path("payments/", include("shop.payments.urls")),
    path("csp-report/", core_views.csp_report, name="csp_report"),
    path("healthz", core_views.healthz, name="healthz"),
    path("", include("shop.operations.urls")),
    path("", include("shop.payments.urls_pay")),
    path("", include("shop.orders.urls")),
    path("", include("shop.catalog.urls")),
]

if settings.PAYMENT_GATEWAY == "sandbox":
    # The sandbox payment provider, kept apart from the shop under its own prefix, and reachable only
    # while it is the gateway in use: otherwise its token endpoint would mint payable made-up cards.
    urlpatterns.insert(-3, path("sandbox-gateway/", include("shop.payments.gateways.sandbox.urls")))

if not settings.PRODUCTION:
    # Uploaded product images in the embedded mode; in production the TLS proxy serves /media/.
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))
