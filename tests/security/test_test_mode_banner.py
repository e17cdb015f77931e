"""While the sandbox takes the payments, every storefront and admin page says so."""

import pytest
from django.urls import reverse

BANNER = "Test mode, no real payments."

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/products/", "/cart/", "/account/login/", "/admin/login/"])
def test_every_page_carries_the_test_mode_banner_while_the_sandbox_takes_payments(client, url):
    response = client.get(url, follow=True)

    assert response.status_code == 200
    assert BANNER in response.content.decode()


def test_the_signed_in_admin_index_carries_the_banner(client, verified_login, django_user_model):
    staff = django_user_model.objects.create_user(email="boss@example.com", password="x", is_staff=True)
    staff.is_superuser = True
    staff.save()
    verified_login(client, staff)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert BANNER in response.content.decode()


def test_no_banner_when_a_real_gateway_takes_payments(client, settings):
    settings.PAYMENT_GATEWAY = "stripe"

    response = client.get("/")

    assert BANNER not in response.content.decode()
