"""Product images reach grids only as resized copies, made once by a Celery task."""

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from shop.catalog import tasks, thumbnails
from shop.catalog.models import Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path  # uploads and copies land in the test's own folder


def _upload(name="lamp.jpg", size=(1600, 1200)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def test_saving_a_new_image_enqueues_the_task_on_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        product = ProductFactory(image=_upload())
    product.refresh_from_db()
    assert product.thumbnails_current
    widths = {}
    for width, name in product.thumbnails["widths"].items():
        with Image.open(product.image.storage.open(name)) as copy:
            widths[width] = copy.size
    assert widths == {"240": (240, 180), "480": (480, 360)}


def test_the_grid_sends_the_resized_copies_lazily_and_never_the_upload(client):
    product = ProductFactory(name="Lamp", image=_upload())
    page = client.get(reverse("catalog:product_list")).text
    assert product.image.url not in page  # no copies yet: the placeholder, not the 1600-pixel upload
    assert thumbnails.make_thumbnails(product_id=product.pk) is True
    page = client.get(reverse("catalog:product_list")).text  # the task moved the catalogue version on
    img = re.search(r"<img class=\"product-image\"[^>]+>", page).group(0)
    assert 'loading="lazy"' in img and "240w" in img and "480w" in img and ".webp" in img
    assert product.image.url not in page


def test_making_them_twice_does_nothing_the_second_time():
    product = ProductFactory(image=_upload())
    assert thumbnails.make_thumbnails(product_id=product.pk) is True
    first = Product.objects.get(pk=product.pk).thumbnails
    assert thumbnails.make_thumbnails(product_id=product.pk) is False
    assert Product.objects.get(pk=product.pk).thumbnails == first


def test_a_replaced_image_gets_new_copies_and_the_sweeper_finds_it():
    product = ProductFactory(image=_upload("old.jpg"))
    thumbnails.make_thumbnails(product_id=product.pk)
    product.image = _upload("new.jpg", size=(300, 600))
    product.save()
    assert thumbnails.products_missing_thumbnails() == [product.pk]
    assert tasks.sweep_product_thumbnails() == 1  # eager in tests: the copies are made at once
    product.refresh_from_db()
    assert product.thumbnails_current and product.thumbnails["source"] == product.image.name
    assert thumbnails.products_missing_thumbnails() == []


def test_an_unreadable_image_is_left_without_copies_and_logged_without_failing(caplog):
    product = ProductFactory(image=SimpleUploadedFile("broken.jpg", b"not an image", content_type="image/jpeg"))
    assert thumbnails.make_thumbnails(product_id=product.pk) is False
    assert "cannot be read" in caplog.text
