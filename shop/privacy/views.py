"""The shopper's privacy page: ask for a copy of one's data or for deletion, and download the copy."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from shop.accounts.views import step_up_required

from . import services
from .models import DataRequest

# The request is saved, but the job queue did not answer: the sweeper starts it once it does.
QUEUED = "Your request is saved and queued. It starts within a few minutes; we will e-mail you when it is done."


@never_cache
@login_required
def requests_page(request):
    data_requests = DataRequest.objects.filter(subject=request.user).prefetch_related("events").order_by("-received_at")
    running = any(r.status in DataRequest.OPEN for r in data_requests)
    return render(request, "privacy/requests.html", {"data_requests": data_requests, "running": running})


@step_up_required
def request_export(request):
    if request.method != "POST":  # back from the step-up page: ask again, on the page
        return redirect("privacy:requests")
    filed = services.request_export(subject=request.user)
    if getattr(filed, "waiting_for_broker", False):
        messages.success(request, QUEUED)
    else:
        messages.success(request, "We are preparing a copy of your data. We will e-mail you when it is ready.")
    return redirect("privacy:requests")


@step_up_required
def request_erasure(request):
    if request.method != "POST":
        return redirect("privacy:requests")
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that your account should be deleted.")
        return redirect("privacy:requests")
    filed = services.request_erasure(subject=request.user)
    if getattr(filed, "waiting_for_broker", False):
        messages.success(request, QUEUED)
    else:
        messages.success(
            request, "Your account will be deleted. We will confirm it by e-mail; orders are kept for accounting."
        )
    return redirect("privacy:requests")


@never_cache
@step_up_required
def download(request, request_id: int):
    data_request = DataRequest.objects.filter(pk=request_id, subject=request.user, kind=DataRequest.Kind.EXPORT).first()
    archive = services.archive_file(data_request) if data_request else None
    if archive is None:
        raise Http404("This export does not exist or has expired.")
    services.record_download(request=data_request, actor=request.user)
    return FileResponse(
        archive, as_attachment=True, filename=f"storefront-data-{data_request.received_at:%Y-%m-%d}.zip"
    )
