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


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", "Fixed"
    SELF_HEALED = "self_healed", "Self-healed"
    FALSE_POSITIVE = "false_positive", "False positive"
    CHANGE_ROLLED_BACK = "change_rolled_back", "Change rolled back"
    VENDOR_FIX = "vendor_fix", "Vendor fix"
    DUPLICATE = "duplicate", "Duplicate"
    WORKAROUND = "workaround", "Workaround in place"
    UNSPECIFIED = "unspecified", "Unspecified"


MAJOR_SEVERITIES = (Severity.SEV1, Severity.SEV2)


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
    description = models.TextField(blank=True)
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who declared it by hand (phone call, chat); empty when alerts opened it.",
    )
    # Roles. Responders (people and whole teams) are IncidentResponder rows.
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    communications_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    scribe = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Set for good by a hand-off to a team outside the IOC; handing back does not clear it.
    escalated_outside = models.BooleanField(default=False)
    resolving_team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution_code = models.CharField(max_length=30, choices=ResolutionCode.choices, blank=True)
    resolution_summary = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    # Major incidents owe stakeholders a status update by this time.
    next_status_update_at = models.DateTimeField(null=True, blank=True)
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

    @property
    def is_major(self) -> bool:
        return self.severity in MAJOR_SEVERITIES


class IncidentEvent(models.Model):
    """One entry of an incident's timeline. Append-only: the KPIs are computed from it."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ALERT_ATTACHED = "alert_attached", "Alert attached"
        ALERT_RESOLVED = "alert_resolved", "Alert resolved"
        SEVERITY_CHANGED = "severity_changed", "Severity changed"
        STATUS_CHANGED = "status_changed", "Status changed"
        NOTE = "note", "Note"
        ROLE_CHANGED = "role_changed", "Role changed"
        RESPONDERS_ADDED = "responders_added", "Responders added"
        HAND_OFF = "hand_off", "Hand-off"
        HAND_OFF_ACCEPTED = "hand_off_accepted", "Hand-off accepted"
        STATUS_UPDATE = "status_update", "Status update"
        CHECKLIST_ITEM = "checklist_item", "Checklist item"
        MERGED = "merged", "Merged"
        SPLIT = "split", "Split"
        FLAPPING = "flapping", "Flapping"
        NOTIFICATION = "notification", "Notification"
        ESCALATION = "escalation", "Escalation"
        POSTMORTEM = "postmortem", "Postmortem"

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


# The records around an incident (hand-offs, responders, checklists, postmortems, hand-over
# notes) live in their own module; importing them here registers them with Django.
from .escalation_models import (  # noqa: E402
    Escalation,
    EscalationPolicy,
    EscalationStep,
    Notification,
)
from .records import (  # noqa: E402
    ActionItem,
    ChecklistItem,
    HandOff,
    IncidentResponder,
    Postmortem,
    RunbookTemplate,
    ShiftHandover,
    StatusUpdate,
)

__all__ = [
    "ActionItem",
    "ChecklistItem",
    "Counter",
    "Escalation",
    "EscalationPolicy",
    "EscalationStep",
    "HandOff",
    "Incident",
    "IncidentEvent",
    "IncidentResponder",
    "Notification",
    "Postmortem",
    "RunbookTemplate",
    "ShiftHandover",
    "StatusUpdate",
]
