import pytest
from django.contrib.auth.models import Group

from shop.accounts.roles import COMPLIANCE, MANAGER
from tests.factories import UserFactory


@pytest.fixture
def officer(db):
    user = UserFactory(email="officer@example.com", first_name="Olga", is_staff=True)
    user.groups.add(Group.objects.get(name=COMPLIANCE))
    return user


@pytest.fixture
def manager(db):
    user = UserFactory(email="manager@example.com", first_name="Max", is_staff=True)
    user.groups.add(Group.objects.get(name=MANAGER))
    return user


@pytest.fixture
def officer_client(client, officer, verified_login):
    verified_login(client, officer)
    return client
