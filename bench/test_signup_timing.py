"""Sign-up for a known and an unknown address: how long the service takes.

Password hashing costs the same on both paths (Argon2 takes about 1 s on a loaded 2-core machine and
drowns the difference in noise), so a fast hasher is used to see the rest of the work.

Run by hand (not part of the suite): .venv/bin/pytest -q -s -p no:cacheprovider bench/test_signup_timing.py
On PostgreSQL (DATABASE_URL). On-commit work (the e-mails) does not run inside the test transaction, so
this is the request's own work: the answer an attacker times.
"""

import statistics
import time

import pytest
from django.test import RequestFactory

from shop.accounts import services
from shop.accounts.models import User

ROUNDS = 200


@pytest.mark.django_db
def test_sign_up_takes_as_long_for_a_known_address_as_for_a_new_one(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_user(email="taken@example.com", password="x-long-enough-password")  # noqa: S106
    request = RequestFactory().post("/account/signup/", REMOTE_ADDR="203.0.113.7")

    def once(email):
        start = time.perf_counter()
        services.sign_up(request=request, email=email, password="violet-kettle-harbour-42", marketing_opt_in=False)  # noqa: S106
        return (time.perf_counter() - start) * 1000

    known, new = [], []
    for n in range(ROUNDS):  # interleaved, so that load on the machine hits both alike
        known.append(once("taken@example.com"))
        new.append(once(f"new{n}@example.com"))
    k, u = statistics.median(known), statistics.median(new)
    print(f"\nsign-up median over {ROUNDS}: known {k:.2f} ms, new {u:.2f} ms, difference {u - k:+.2f} ms")
