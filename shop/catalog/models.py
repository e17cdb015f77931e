from django.conf import settings
from django.db import models
from django.urls import reverse


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first in the menu.")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:product_list") + f"?category={self.slug}"

    @property
    def palette(self) -> int:
        """Which of the stylesheet's six colours the category's image placeholders use."""
        return self.position % 6


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    price_minor = models.PositiveIntegerField(help_text="Price in minor units (cents): 1250 is 12.50.")
    currency = models.CharField(max_length=3, default=settings.SHOP_CURRENCY)
    is_active = models.BooleanField(default=True, help_text="Inactive products are hidden from the shop.")
    image = models.ImageField(upload_to="products/", blank=True)
    # Resized copies of `image` for grids, made once by a Celery task (shop.catalog.thumbnails):
    # {"source": image name they were made from, "widths": {"240": storage name, "480": ...}}.
    thumbnails = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=models.Q(price_minor__gt=0), name="product_price_positive")]
        # The shop's sort orders: a page of 12 is read from an index, not by sorting every product.
        indexes = [
            models.Index(fields=["name", "id"], name="catalog_product_by_name"),
            models.Index(fields=["price_minor", "id"], name="catalog_product_by_price"),
            models.Index(fields=["-created_at", "-id"], name="catalog_product_newest"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("catalog:product_detail", args=[self.slug])

    @property
    def thumbnails_current(self) -> bool:
        return bool(self.image) and self.thumbnails.get("source") == self.image.name

    @property
    def thumbnail_srcset(self) -> str:
        """`srcset` of the resized copies, smallest first; empty until the task has made them."""
        if not self.thumbnails_current:
            return ""
        from django.core.files.storage import default_storage

        widths = sorted(self.thumbnails["widths"].items(), key=lambda item: int(item[0]))
        return ", ".join(f"{default_storage.url(name)} {width}w" for width, name in widths)

    @property
    def thumbnail_url(self) -> str:
        """The smallest copy, for the `src` of browsers without srcset."""
        if not self.thumbnails_current:
            return ""
        from django.core.files.storage import default_storage

        smallest = min(self.thumbnails["widths"], key=int)
        return default_storage.url(self.thumbnails["widths"][smallest])


class Store(models.Model):
    """A physical shop: sells for pickup, and may ship delivery orders from its stock."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    street = models.CharField(max_length=200)
    postal_code = models.CharField(max_length=20)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="DE", help_text="ISO 3166 country code.")
    opening_hours = models.TextField(help_text="One line per day or range, e.g. 'Mon-Fri 09:00-19:00'.")
    pickup_enabled = models.BooleanField(default=True, help_text="Shoppers may choose this store for pickup.")
    ships_orders = models.BooleanField(default=False, help_text="Delivery orders may be shipped from this stock.")
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="stores",
        help_text="Clerks and managers who work here; clerks see only their stores' orders.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def opening_hours_lines(self):
        return [line.strip() for line in self.opening_hours.splitlines() if line.strip()]


class Stock(models.Model):
    """Units of one product on the shelf of one store. Orders take units from here."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="stock")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="stock")
    quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["store__name"]
        constraints = [models.UniqueConstraint(fields=["store", "product"], name="stock_one_row_per_store_product")]
        verbose_name_plural = "stock"

    def __str__(self):
        return f"{self.product} @ {self.store}: {self.quantity}"
