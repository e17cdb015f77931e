import base64
import hashlib
import html
import json
import re

import pytest

_CHALLENGE = re.compile(r'data-challenge="([^"]*)"')


def solve(puzzle: dict) -> str:
    """Solve a proof-of-work challenge as static/js/challenge.js does, and return the payload."""
    for number in range(puzzle["max_number"] + 1):
        if hashlib.sha256(f"{puzzle['salt']}{number}".encode()).hexdigest() == puzzle["challenge"]:
            solution = {key: puzzle[key] for key in ("algorithm", "challenge", "salt", "signature")}
            return base64.b64encode(json.dumps({**solution, "number": number}).encode()).decode()
    raise AssertionError("the challenge has no solution")


def challenge_on(response) -> dict:
    """The challenge a page hands to the browser (fails the test if the page has none)."""
    found = _CHALLENGE.search(response.content.decode())
    assert found, "the page carries no challenge"
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture
def solved(client):
    """solved(url): fetch the form at `url` and return a solution of its challenge, as a browser would post it."""

    def solution_for(url: str, *, using=None) -> str:
        return solve(challenge_on((using or client).get(url)))

    return solution_for
