from django.conf import settings
from django.db import models


class Severity(models.TextChoices):
    SEV1 = "SEV1", "SEV1 — critical business impact"
    SEV2 = "SEV2", "SEV2 — major impact"
    SEV3 = "SEV3", "SEV3 — minor impact"
    SEV4 = "SEV4", "SEV4 — low impact"


class Status(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MITIGATED = "mitigated", "Mitigated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (
    Status.TRIGGERED,
    Status.ACKNOWLEDGED,
    Status.INVESTIGATING,
    Status.IDENTIFIED,
    Status.MITIGATED,
)


class Via(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Counter(models.Model):
    """Named counters handed out under a row lock (the global incident number)."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Incident(models.Model):
    number = models.PositiveBigIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=500)
    severity = models.CharField(max_length=4, choices=Severity.choices, default=Severity.SEV4)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.TRIGGERED, db_index=True
    )
    team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="incidents")
    service = models.CharField(max_length=200, blank=True)
    # Alerts with the same group key join the open incident that carries it.
    group_key = models.CharField(max_length=64, blank=True)
    alert_count = models.PositiveIntegerField(
        default=0, help_text="Alerts attached; recounted from the alerts table on every change."
    )
    opened_at = models.DateTimeField(db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # One open incident per group key: two workers cannot open the same incident twice.
            models.UniqueConstraint(
                fields=["group_key"],
                condition=models.Q(status__in=OPEN_STATUSES) & ~models.Q(group_key=""),
                name="incident_one_open_per_group_key",
            )
        ]
        indexes = [models.Index(fields=["team", "status"], name="incident_team_status")]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class IncidentEvent(models.Model):
    """One entry of an incident's timeline. Append-only: the KPIs are computed from it."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ALERT_ATTACHED = "alert_attached", "Alert attached"
        ALERT_RESOLVED = "alert_resolved", "Alert resolved"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        STATUS_CHANGED = "status_changed", "Status changed"
        NOTE = "note", "Note"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.SYSTEM)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"
