"""Celery tasks: thin wrappers that call the escalation services and own only scheduling."""

from celery import shared_task

from . import notifications


@shared_task(name="incidents.tasks.escalations_sweep")
def escalations_sweep() -> dict:
    return notifications.escalations_sweep()
