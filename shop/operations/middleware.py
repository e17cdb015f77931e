from django.http import HttpResponse

from .backup import ledger


class RestoreGuardMiddleware:
    """While a restore runs (until the erasure ledger is re-applied), the shop serves nothing:
    a page served in between could show a person who was erased after the backup was taken."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if ledger.restore_pending() and not request.path.startswith("/health/"):
            response = HttpResponse(
                "The shop is being restored from a backup and will be back in a few minutes.\n",
                content_type="text/plain",
                status=503,
            )
            response["Retry-After"] = "120"
            return response
        return self.get_response(request)
