from django.db import models

from incidents.models import Incident


class AlertSeverity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class Integration(models.Model):
    """One alert source pointed at IOC: its kind picks the parser, its token authenticates it."""

    class Kind(models.TextChoices):
        GENERIC = "generic", "Generic JSON"
        ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
        GRAFANA = "grafana", "Grafana"
        PAGERDUTY = "pagerduty", "PagerDuty Events API v2"
        OPSGENIE = "opsgenie", "Opsgenie alert API"
        ZABBIX = "zabbix", "Zabbix"
        DATADOG = "datadog", "Datadog"
        CLOUDWATCH = "cloudwatch", "AWS CloudWatch (SNS)"
        AZURE = "azure", "Azure Monitor"
        GCP = "gcp", "Google Cloud Monitoring"
        NEWRELIC = "newrelic", "New Relic"
        SENTRY = "sentry", "Sentry"
        UPTIME_KUMA = "uptime_kuma", "Uptime Kuma"
        LOGICMONITOR = "logicmonitor", "LogicMonitor"
        HEARTBEAT = "heartbeat", "Heartbeat"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=Kind.choices, default=Kind.GENERIC)
    team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="integrations")
    # SHA-256 of the token: tokens carry 256 random bits, so a fast hash is enough and lets the
    # webhook find its integration with one indexed lookup.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(
        max_length=8, editable=False, help_text="First characters of the token, to tell them apart."
    )
    # After a rotation the previous token keeps working until this time, so that senders can be
    # moved over without losing alerts.
    previous_token_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    previous_token_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=0, help_text="Deliveries accepted per minute; 0 means the site default."
    )
    default_severity = models.CharField(
        max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text='Options for the parser, e.g. {"severity_map": {"disaster": "critical"}}.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Heartbeat integrations only: set while processing a ping; the sweep fires an alert when it
    # is older than the configured period (see alerts/heartbeat.py).
    last_ping_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class InboundEvent(models.Model):
    """A raw delivery exactly as received (credentials redacted): the durable record of intake."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="deliveries"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    content_type = models.CharField(max_length=200, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="pending"),
                name="inbound_pending",
            ),
            models.Index(fields=["integration", "-received_at"], name="inbound_integration"),
            # Retention deletes by status and age in batches; without this each batch would scan.
            models.Index(fields=["status", "processed_at"], name="inbound_status_processed"),
        ]
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class Alert(models.Model):
    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FIRING)
    severity = models.CharField(max_length=10, choices=AlertSeverity.choices)
    name = models.CharField(max_length=255, blank=True)
    summary = models.TextField()
    description = models.TextField(blank=True)
    source = models.CharField(max_length=255, blank=True, help_text="The affected host.")
    service = models.CharField(max_length=200, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The source's own start time of the current firing: a resolve older than it belongs to an
    # earlier firing (deliveries can arrive out of order) and is ignored.
    source_started_at = models.DateTimeField(null=True, blank=True)
    # Why this alert pages nobody (empty: it pages as routed). "suppressed": an upstream
    # component is down or an inhibit rule matched (it still counts for the incident it joined);
    # "silenced": a silence or maintenance window matched (stored, visible, not counted).
    suppression = models.CharField(
        max_length=12,
        blank=True,
        choices=[("", "none"), ("suppressed", "Suppressed"), ("silenced", "Silenced")],
    )
    suppression_reason = models.CharField(max_length=500, blank=True)
    route = models.ForeignKey(
        "alerts.Route", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    flapping = models.BooleanField(
        default=False,
        help_text="Its fingerprint changes state too often: it opens no incident and pages nobody "
        "until it has been quiet for a while.",
    )

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            # At most one unresolved alert per fingerprint and integration: the dedup invariant,
            # held by the database so that concurrent deliveries cannot create a second one.
            models.UniqueConstraint(
                fields=["integration", "fingerprint"],
                condition=~models.Q(status="resolved"),
                name="alert_one_unresolved_per_fingerprint",
            )
        ]
        indexes = [
            models.Index(fields=["integration", "fingerprint"], name="alert_fingerprint"),
            models.Index(fields=["status", "-last_seen"], name="alert_status_seen"),
            # The catalog's pages and the dependency suppression look alerts up by component.
            models.Index(fields=["service", "-last_seen"], name="alert_service_seen"),
            models.Index(fields=["source", "-last_seen"], name="alert_source_seen"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.summary[:40]} [{self.status}]"


class FlapState(models.Model):
    """The recent state changes of one fingerprint. A fire after a resolve is a new Alert row, so
    the history that tells flapping apart cannot live on the alert: it lives here, one row per
    integration and fingerprint, pruned by the sweep once it no longer matters."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=255)
    # ISO 8601 times of the latest state changes, oldest first; only as many as the threshold,
    # because that is all the decision needs (alerts/flapping.py).
    changes = models.JSONField(default=list, blank=True)
    last_change_at = models.DateTimeField()
    flapping = models.BooleanField(default=False)
    flapping_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "fingerprint"], name="flapstate_one_per_fingerprint"
            )
        ]
        indexes = [models.Index(fields=["flapping", "last_change_at"], name="flapstate_quiet")]
        verbose_name = "flap state"

    def __str__(self) -> str:
        return f"{self.fingerprint} ({'flapping' if self.flapping else 'steady'})"


# Routing, the service catalog, silences, maintenance windows and inhibit rules live in their
# own module; importing them here registers them with Django.
from .routing_models import (  # noqa: E402
    InhibitRule,
    MaintenanceWindow,
    Route,
    Service,
    ServiceDependency,
    Silence,
)

__all__ = [
    "Alert",
    "AlertSeverity",
    "FlapState",
    "InboundEvent",
    "InhibitRule",
    "Integration",
    "MaintenanceWindow",
    "Route",
    "Service",
    "ServiceDependency",
    "Silence",
]
