"""Privacy listens to orders: when a person's last open order closes, their deferred erasure goes on
at once instead of at the next sweep. Privacy imports orders' signals; orders imports nothing of privacy."""

from django.dispatch import receiver

from shop.orders.signals import order_closed

from .models import DataRequest


@receiver(order_closed, dispatch_uid="privacy.resume_deferred_erasure")
def resume_deferred_erasure(sender, order_id, user_id, status, **kwargs):
    if user_id is None:
        return
    from .tasks import run_erasure

    waiting = DataRequest.objects.filter(
        kind=DataRequest.Kind.ERASURE, status=DataRequest.Status.DEFERRED, subject_id=user_id
    ).values_list("pk", flat=True)
    for request_id in waiting:
        run_erasure.delay(request_id)  # run_erasure defers again if another order is still open
