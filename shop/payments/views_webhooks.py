"""One webhook endpoint per gateway: verify the provider's signature, then apply the event once."""

import logging

from django.conf import settings
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import gateways, services
from .gateways.base import WebhookSignatureError

logger = logging.getLogger("shop.payments.webhooks")

MAX_WEBHOOK_BYTES = 64 * 1024


# CSRF protection is off on purpose: the provider's servers post here without a cookie or token.
# The signature over timestamp and body (checked by the gateway's parse_webhook before anything
# else happens) is what authenticates the request; an unsigned, wrongly signed or stale request
# gets 400 and changes nothing.
@csrf_exempt
@require_POST
def webhook(request, gateway: str):
    if gateway not in gateways.GATEWAYS:
        raise Http404("No such payment gateway.")
    length = request.headers.get("Content-Length") or "0"
    if (length.isdigit() and int(length) > MAX_WEBHOOK_BYTES) or len(request.body) > MAX_WEBHOOK_BYTES:
        logger.warning("Webhook for %s refused: body over %d bytes", gateway, MAX_WEBHOOK_BYTES)
        return HttpResponseBadRequest("Payload too large.")
    if not getattr(settings, f"{gateway.upper()}_WEBHOOK_SECRET", ""):
        # An empty secret would make an HMAC anyone can compute: accept nothing until it is set.
        logger.warning("Webhook for %s refused: %s_WEBHOOK_SECRET is not set", gateway, gateway.upper())
        return HttpResponseBadRequest("Webhooks for this gateway are not configured.")
    provider = gateways.get_gateway(gateway)
    try:
        event = provider.parse_webhook(body=request.body, headers=request.headers)
    except WebhookSignatureError as error:
        # Never log the payload: only which gateway, why, and from where.
        logger.warning("Webhook for %s refused: %s (from %s)", gateway, error, request.META.get("REMOTE_ADDR", "?"))
        return HttpResponseBadRequest("Invalid signature.")
    try:
        processed = services.process_webhook(gateway_name=gateway, event=event)
    except Exception:
        # Nothing was recorded (it rolled back): a non-2xx answer makes the provider retry later.
        logger.exception(
            "Webhook %s %s from %s could not be applied; the provider will retry", event.type, event.id, gateway
        )
        return HttpResponse("Temporarily unable to process the event.", status=503, content_type="text/plain")
    if not processed:
        logger.info("Webhook %s %s from %s was a redelivery; already processed", event.type, event.id, gateway)
    # 200 for a redelivery too: the provider must stop retrying an event the shop already has.
    return HttpResponse("ok" if processed else "already processed", content_type="text/plain")
