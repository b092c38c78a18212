"""Celery tasks: thin wrappers that call the ingest services and own only retries."""

from celery import shared_task

from . import ingest


@shared_task(name="alerts.tasks.deliveries_process_pending")
def deliveries_process_pending() -> int:
    return ingest.deliveries_process_pending()


@shared_task(name="alerts.tasks.deliveries_sweep")
def deliveries_sweep() -> int:
    return ingest.deliveries_sweep()
