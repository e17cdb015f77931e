"""Input the database cannot store is refused at the edge, once, before any view or query sees it.

PostgreSQL text cannot hold a NUL character: a query with one fails with DataError, a 500. Any
part of a request may carry one (the path, the query string, a form field, a cookie such as the
session key, a header), so rather than every view and filter guarding its own, this middleware
answers such a request with a 400 page a person understands. Undecodable bytes arrive as the
replacement character (Django decodes with errors="replace") and are harmless to store, so they
need nothing here; form fields also refuse NUL on their own (Django's ProhibitNullCharactersValidator).
"""

from django.http import HttpResponseBadRequest, RawPostDataException
from django.template.loader import render_to_string

NUL = "\x00"
_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def _carries_nul(request) -> bool:
    if NUL in request.path_info or NUL in request.META.get("QUERY_STRING", ""):
        return True
    if any(NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()):
        return True
    if any(NUL in key or NUL in value for key, value in request.COOKIES.items()):
        return True
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        try:
            fields = request.POST.lists()
        except RawPostDataException:
            return False
        return any(NUL in key or any(NUL in value for value in values) for key, values in fields)
    return False


# This answer leaves before the session, the user and the CSP middleware: a page of its own, with no
# context processors (they would load the session whose key may be the NUL) and its own strict policy.
_POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"


class RefuseUnstorableInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _carries_nul(request):
            response = HttpResponseBadRequest(render_to_string("400_input.html"))
            response["Content-Security-Policy"] = _POLICY
            response["Cache-Control"] = "no-store"
            return response
        return self.get_response(request)
