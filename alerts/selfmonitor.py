"""IOC watching itself: a stalled escalation sweeper raises an alert like any monitored system.

The delivery sweep runs this; it is a separate task from the escalation sweep, so a sweeper that
is wedged (or whose task keeps failing) still gets noticed and paged on. If every worker is down,
nothing runs at all: that case is /healthz's body, which the load balancer's monitoring reads.
"""

from datetime import datetime

from django.db import transaction

from incidents.selectors import escalation_sweeper_health
from teams.models import Team

from .models import Alert, Integration
from .services import integration_create
from .sources.base import ParsedAlert

INTEGRATION_NAME = "IOC self-monitoring"
FINGERPRINT = "ioc/escalation-sweeper"


def _integration() -> Integration | None:
    integration = Integration.objects.select_related("team").filter(name=INTEGRATION_NAME).first()
    if integration is not None:
        return integration
    team = Team.objects.filter(in_ioc=True).order_by("id").first()
    if team is None:
        return None
    integration, _token = integration_create(name=INTEGRATION_NAME, kind="generic", team=team)
    return integration


def self_monitor_check(*, now: datetime) -> str:
    """Fire the sweeper alert while escalations are overdue; resolve it once they are not."""
    from .batch import processing_turn
    from .ingest import alert_apply

    health = escalation_sweeper_health()
    stalled = health["escalations"] == "stalled"
    open_alert = Alert.objects.filter(fingerprint=FINGERPRINT).exclude(status="resolved")
    if not stalled and not open_alert.exists():
        return "ok"
    with transaction.atomic():
        processing_turn()
        integration = _integration()
        if integration is None:
            return "no team to page"
        overdue = int(health["escalations_overdue_seconds"])
        alert_apply(
            integration=integration,
            parsed=ParsedAlert(
                fingerprint=FINGERPRINT,
                status="firing" if stalled else "resolved",
                severity="critical",
                name="EscalationSweeperStalled",
                summary=f"IOC escalation sweeper stalled: steps or pages overdue by {overdue} s",
                service="ioc",
                source="ioc-workers",
            ),
            at=now,
        )
    return "stalled" if stalled else "recovered"
