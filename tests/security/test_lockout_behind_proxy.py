"""Lockout behind a real forwarding proxy, on two real nodes sharing PostgreSQL and Redis.

The attack of the review: behind the proxy every connection comes from the proxy's address,
so one attacker's failures locked sign-in for every shopper. And a node reached directly with a
made-up X-Forwarded-For let a locked attacker pick a fresh address. Here the attacker and the
victim connect from different loopback addresses (127.0.0.2 and 127.0.0.3), through a proxy
that appends the peer address as nginx does and spreads requests over two gunicorn nodes.
"""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.accounts.conftest import solve
from tests.factories import PASSWORD, UserFactory
from tests.servers.nodes import Browser, free_port, node_environment, start_node, start_proxy, stop

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOGIN = "/account/login/"
ADDRESS_LIMIT = 6
ATTACKER, VICTIM = "127.0.0.2", "127.0.0.3"
_CHALLENGE = re.compile(r'data-challenge="([^"]*)"')


def _solution(page: str) -> dict:
    import html
    import json

    found = _CHALLENGE.search(page)
    return {"challenge": solve(json.loads(html.unescape(found.group(1))))} if found else {}


@pytest.fixture
def shop_behind_proxy(tmp_path):
    """Two nodes and the proxy in front: (proxy port, [node ports])."""
    database = settings.DATABASES["default"]
    database_url = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        if not database.get("PASSWORD")
        else f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}"
    )
    env = node_environment(
        database_url=database_url,
        redis_url=settings.REDIS_URL,
        var_dir=tmp_path,
        TRUSTED_PROXY_HEADER="HTTP_X_FORWARDED_FOR",
        TRUSTED_PROXY_ADDRESSES="127.0.0.1",
        LOCKOUT_FAILURES_PER_ADDRESS=str(ADDRESS_LIMIT),
    )
    nodes = [free_port(), free_port()]
    processes = []
    try:
        for port in nodes:
            processes.append(start_node(port, env))
        proxy = free_port()
        processes.append(start_proxy(proxy, nodes))
        yield proxy, nodes
    finally:
        stop(processes)


def _shopper(email: str):
    """A committed account whose password the nodes can check (the suite's fast hasher is in-process only)."""
    user = UserFactory(email=email)
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "multinodesalt")
    user.save(update_fields=["password"])
    return user


def _sign_in(browser, port, email, password, headers=None):
    status, response_headers, _ = browser.post_form(
        port, LOGIN, {"username": email, "password": password}, extra=_solution, headers=headers
    )
    return status, response_headers


def test_one_attacker_behind_the_proxy_locks_only_their_own_address(shop_behind_proxy):
    proxy, nodes = shop_behind_proxy
    victim = _shopper("victim@example.com")
    attacker = Browser(ATTACKER)
    served_by, statuses = set(), []
    for n in range(ADDRESS_LIMIT):
        if n % 2:
            attacker.get(proxy, "/healthz")  # shifts the round robin: the next POST lands on the other node
        statuses.append(_sign_in(attacker, proxy, f"someone{n}@example.com", "wrong-password-guess")[0])
        served_by.add(attacker.last_served_by)
    # The failure that reaches the address-wide limit is answered with the lockout page.
    assert statuses == [200] * (ADDRESS_LIMIT - 1) + [429]
    # The failures were posted to both nodes, and counted together: the nodes share the counters.
    assert served_by == {str(port) for port in nodes}
    assert _sign_in(attacker, proxy, victim.email, PASSWORD)[0] == 429

    # The victim, through the same proxy, is not locked out by someone else's failures.
    shopper = Browser(VICTIM)
    status, headers = _sign_in(shopper, proxy, victim.email, PASSWORD)
    assert status == 302 and headers["Location"] == "/account/"
    # The session works on both nodes.
    pages = [shopper.get(proxy, "/account/") for _ in range(2)]
    assert [status for status, _, _ in pages] == [200, 200]
    assert all("victim@example.com" in text for _, _, text in pages)

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_a_locked_attacker_reaching_a_node_directly_cannot_pick_an_address_with_a_forged_header(shop_behind_proxy):
    proxy, nodes = shop_behind_proxy
    victim = _shopper("victim@example.com")
    attacker = Browser(ATTACKER)
    for n in range(ADDRESS_LIMIT):
        _sign_in(attacker, proxy, f"someone{n}@example.com", "wrong-password-guess")

    forged = {"X-Forwarded-For": VICTIM}
    for port in nodes:
        status, _ = _sign_in(Browser(ATTACKER), port, victim.email, PASSWORD, headers=forged)
        assert status == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_a_used_challenge_solution_is_refused_on_the_other_node(shop_behind_proxy):
    """Limits kept in Redis (here: each proof-of-work solution works once) hold across nodes."""
    _, (first, second) = shop_behind_proxy
    victim = _shopper("victim@example.com")
    attacker = Browser(ATTACKER)
    for n in range(3):
        _sign_in(attacker, first, f"someone{n}@example.com", "wrong-password-guess")
    status, _, page = attacker.get(first, LOGIN)
    solution = _solution(page)
    assert solution, "after three failures the sign-in form asks for the challenge"

    status, _ = attacker.post_form(
        first, LOGIN, {"username": "someone@example.com", "password": "wrong-password-guess"}, extra=lambda _: solution
    )[:2]
    replay = attacker.post_form(
        second, LOGIN, {"username": victim.email, "password": PASSWORD}, extra=lambda _: solution
    )

    assert status == 200
    assert replay[0] == 200 and "This check was already used." in replay[2]
    assert "_auth_user_id" not in str(attacker.cookies)
