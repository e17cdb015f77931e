import io

import pytest


@pytest.fixture
def demo(db):
    """The demo catalogue, stores and people that `make run` loads (seed_demo)."""
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
