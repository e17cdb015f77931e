"""CSP reports are logged with the page's path only: never a query string, a fragment or a full URL."""

import json
import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_csp_report_is_logged_with_the_path_and_the_blocked_host_only(caplog):
    body = {
        "csp-report": {
            "document-uri": "https://shop.example.com/admin/accounts/user/?q=ann.private%40example.com#top",
            "violated-directive": "style-src-attr 'self'",
            "blocked-uri": "https://evil.example/x.css?who=ann.private@example.com",
        }
    }

    with caplog.at_level(logging.WARNING, logger="shop.csp"):
        response = Client().post("/csp-report/", data=json.dumps(body), content_type="application/csp-report")

    assert response.status_code == 204
    assert "CSP violation: style-src-attr blocked evil.example on /admin/accounts/user/" in caplog.text
    assert "ann" not in caplog.text and "?" not in caplog.text and "#" not in caplog.text


@pytest.mark.parametrize("uri", ["http://[x", "http://[::1/"])
def test_a_report_with_an_unparsable_url_is_logged_without_it(caplog, uri):
    body = {"csp-report": {"document-uri": uri, "violated-directive": "img-src", "blocked-uri": uri}}

    with caplog.at_level(logging.WARNING, logger="shop.csp"):
        response = Client().post("/csp-report/", data=json.dumps(body), content_type="application/csp-report")

    assert response.status_code == 204
    assert "[x" not in caplog.text and "[::1" not in caplog.text
