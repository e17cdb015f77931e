"""Admin edits and other save()/delete() calls on catalog rows move the catalogue version on.

Bulk writes (QuerySet.update, bulk_update, bulk_create) send no signals: the services that do
them call shop.catalog.services.catalogue_changed() themselves (orders does, when it takes or
returns stock).
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import services
from .models import Category, Product, Stock, Store


@receiver([post_save, post_delete], sender=Product)
@receiver([post_save, post_delete], sender=Category)
@receiver([post_save, post_delete], sender=Stock)
@receiver([post_save, post_delete], sender=Store)
def _catalogue_row_changed(sender, **kwargs):
    services.catalogue_changed()


@receiver(post_save, sender=Product)
def _new_image_gets_thumbnails(sender, instance, **kwargs):
    if instance.image and not instance.thumbnails_current:
        from .tasks import make_product_thumbnails

        make_product_thumbnails.delay_on_commit(instance.pk)
