import functools
import logging
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

logger = logging.getLogger("shop.jobs")


class ShopTask(DjangoTask):
    """Tasks enqueued on commit survive a broker outage.

    The row a task works on is committed before the message is sent, and every job has a sweeper
    that finds rows whose work was not done (shop/privacy/jobs.py, the orders' confirmation sweep).
    So when the broker is down, sending is skipped with a warning instead of turning the page that
    committed the row into a 500: the work starts when the sweeper runs after the broker is back.
    The warning names the task only: arguments can hold an e-mail address.
    """

    def delay_on_commit(self, *args, **kwargs) -> None:
        self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(self, args=None, kwargs=None, on_unavailable=None, **options) -> None:
        from django.db import transaction

        transaction.on_commit(
            functools.partial(self.send_or_defer, args, kwargs, on_unavailable=on_unavailable, **options)
        )

    def send_or_defer(self, args=None, kwargs=None, *, on_unavailable=None, **options) -> bool:
        """Send now; False (and a warning) if the broker cannot be reached."""
        try:
            self.apply_async(args, kwargs, **options)
        except OperationalError as error:
            logger.warning("Broker unavailable, %s not sent (%s); its sweeper will pick the work up", self.name, error)
            if on_unavailable is not None:
                on_unavailable()
            return False
        return True


app = Celery("shop", task_cls=ShopTask)
# Every CELERY_* setting in shop/settings.py configures this app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
