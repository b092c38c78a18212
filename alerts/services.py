"""Writes to integrations."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from teams.models import Team

from .models import Integration
from .tokens import token_hash, token_new


def integration_ingest_url(*, token: str, base_url: str | None = None) -> str:
    base = (base_url or settings.IOC_BASE_URL).rstrip("/")
    return base + reverse("integration-webhook", kwargs={"token": token})


def integration_issue_token(*, integration: Integration, token: str | None = None) -> str:
    """Give the (unsaved) integration a new token and return it: the only time it is seen."""
    token = token or token_new()
    integration.token_hash = token_hash(token)
    integration.token_hint = token[:6]
    return token


def integration_create(
    *, name: str, kind: str, team: Team, default_severity: str = "warning"
) -> tuple[Integration, str]:
    """Create an integration; returns it with its token, which is shown this once only."""
    integration = Integration(name=name, kind=kind, team=team, default_severity=default_severity)
    token = integration_issue_token(integration=integration)
    integration.save()
    return integration, token


def integration_rotate_token(
    *, integration: Integration, token: str | None = None, grace: timedelta | None = None
) -> str:
    """Issue a new token. The old one keeps working for the grace period (default
    IOC_TOKEN_ROTATION_GRACE_HOURS), so senders can be moved over without losing alerts."""
    if grace is None:
        grace = timedelta(hours=settings.IOC_TOKEN_ROTATION_GRACE_HOURS)
    with transaction.atomic():
        integration = Integration.objects.select_for_update().get(pk=integration.pk)
        integration.previous_token_hash = integration.token_hash if grace else ""
        integration.previous_token_valid_until = timezone.now() + grace if grace else None
        token = integration_issue_token(integration=integration, token=token)
        integration.save(
            update_fields=[
                "token_hash",
                "token_hint",
                "previous_token_hash",
                "previous_token_valid_until",
            ]
        )
    return token
