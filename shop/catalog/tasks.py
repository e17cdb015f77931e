"""Celery wrappers: they take ids and call the catalog's code. Safe to run twice."""

from celery import shared_task

from shop.core.periodic import run_alone

from . import thumbnails


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def make_product_thumbnails(product_id: int) -> bool:
    return thumbnails.make_thumbnails(product_id=product_id)


@shared_task(acks_late=True)
@run_alone("catalog.sweep_product_thumbnails")
def sweep_product_thumbnails() -> int:
    """Re-enqueue products whose image has no resized copies yet (a lost message, a killed worker)."""
    missing = thumbnails.products_missing_thumbnails()
    for product_id in missing:
        make_product_thumbnails.delay(product_id)
    return len(missing)
