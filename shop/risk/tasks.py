"""Celery wrappers of the risk engine's nightly jobs (both idempotent: a second run finds less to do)."""

from celery import shared_task

from shop.core.periodic import run_alone


@shared_task(acks_late=True)
@run_alone("risk.train_risk_model")
def train_risk_model() -> dict:
    from . import training

    outcome = training.train()
    outcome.pop("parameters", None)
    return outcome


@shared_task(acks_late=True)
@run_alone("risk.purge_risk_records")
def purge_risk_records() -> dict:
    from . import services

    return services.purge()
