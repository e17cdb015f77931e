"""Resized copies of product images, so a grid never sends the uploaded original.

Made once per image by a Celery task (shop.catalog.tasks), enqueued when a product is saved with
a new image and re-enqueued by a sweeper for any product whose copies are missing (a lost message,
a worker killed mid-way). Making them again for the same image does nothing: the product row
records which image its copies came from.
"""

import hashlib
import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from . import services
from .models import Product

logger = logging.getLogger(__name__)

# Card widths in CSS pixels are about 240; 480 serves screens with twice the pixel density.
WIDTHS = (240, 480)


def make_thumbnails(*, product_id: int) -> bool:
    """Make the copies of the product's current image; False if there was nothing to do."""
    product = Product.objects.filter(pk=product_id).only("pk", "image", "thumbnails").first()
    if product is None or not product.image or product.thumbnails_current:
        return False
    source = product.image.name
    try:
        with default_storage.open(source, "rb") as upload, Image.open(upload) as original:
            original.load()
            widths = {
                str(width): _save_copy(original, source=source, product_id=product_id, width=width) for width in WIDTHS
            }
    except (FileNotFoundError, UnidentifiedImageError, OSError):
        logger.warning("No thumbnails for product %s: its image cannot be read", product_id)
        return False
    with transaction.atomic():
        # Only if the image is still the one the copies were made from (it may have been replaced meanwhile).
        updated = Product.objects.filter(pk=product_id, image=source).update(
            thumbnails={"source": source, "widths": widths}
        )
        if updated:
            services.catalogue_changed()
    return bool(updated)


def _save_copy(original: Image.Image, *, source: str, product_id: int, width: int) -> str:
    copy = original.convert("RGB")
    copy.thumbnail((width, width * 4))  # keeps the aspect ratio; never enlarges
    buffer = ContentFile(b"")
    copy.save(buffer, format="WEBP", quality=80)
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    name = f"products/thumbnails/{product_id}-{digest}-{width}.webp"
    if default_storage.exists(name):
        default_storage.delete(name)  # a half-written copy of an earlier, interrupted run
    return default_storage.save(name, buffer)


def products_missing_thumbnails() -> list[int]:
    """Products with an image but no copies of that image yet."""
    return [
        p.pk for p in Product.objects.exclude(image="").only("pk", "image", "thumbnails") if not p.thumbnails_current
    ]
