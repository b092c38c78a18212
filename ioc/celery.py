"""The Celery app. Used when REDIS_URL is set; tasks stay thin and call service functions."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")

app = Celery("ioc")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
