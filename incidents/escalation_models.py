"""Escalation policies, the escalation state of each incident, and notifications.

Due times live in rows (`Escalation.next_at`, `Notification.due_at`), never in broker timers: a
sweeper claims due rows with SELECT … FOR UPDATE SKIP LOCKED, so a worker restart neither loses
nor doubles a page. A notification is a row with a unique key before it is a message, and every
send carries the key.
"""

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class EscalationPolicy(models.Model):
    name = models.CharField(max_length=200)
    team = models.ForeignKey(
        "teams.Team", on_delete=models.CASCADE, related_name="escalation_policies"
    )
    is_default = models.BooleanField(
        default=False, help_text="Used for the team's incidents when no route chooses another."
    )
    description = models.TextField(blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="For step conditions on time of day; empty: the floor's IOC_TIME_ZONE.",
    )
    ack_timeout_minutes = models.PositiveIntegerField(
        default=0,
        help_text="An acknowledgement not followed by resolution within this many minutes "
        "re-triggers the escalation (0: never).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__name", "name"]
        verbose_name_plural = "escalation policies"
        constraints = [
            models.UniqueConstraint(
                fields=["team"],
                condition=models.Q(is_default=True),
                name="one_default_policy_per_team",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.team})"


class EscalationStep(models.Model):
    class Kind(models.TextChoices):
        NOTIFY_SCHEDULE = "notify_schedule", "Notify the on-call of a schedule"
        NOTIFY_USERS = "notify_users", "Notify named users"
        NOTIFY_TEAM = "notify_team", "Notify a whole team"
        HAND_OFF = "hand_off", "Hand off to another team"
        NOTIFY_MANAGER = "notify_manager", "Notify a team's manager"
        ROUND_ROBIN = "round_robin", "Notify the next person of a list"
        WEBHOOK = "webhook", "Call an outgoing webhook"
        WAIT = "wait", "Wait"
        REPEAT = "repeat", "Repeat the policy"

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    schedule_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="notify_schedule: the schedule."
    )
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="notify_team, hand_off, notify_manager (empty: the incident's team).",
    )
    users = models.ManyToManyField(
        USER, blank=True, related_name="+", help_text="notify_users and round_robin."
    )
    webhook_url = models.URLField(max_length=1000, blank=True)
    webhook_format = models.CharField(
        max_length=10,
        blank=True,
        choices=[("slack", "Slack"), ("teams", "Microsoft Teams"), ("webhook", "Generic JSON")],
    )
    wait_minutes = models.FloatField(
        default=0, help_text="After this step, wait this long before the next (any duration)."
    )
    repeat_times = models.PositiveIntegerField(default=0, help_text="repeat: how many times.")
    repeat_from = models.PositiveIntegerField(
        default=1, help_text="repeat: from which step (1 = first)."
    )
    # Optional conditions, in the policy's time zone: {"weekdays": [0..6], "from": "08:00",
    # "to": "18:00", "severities": ["SEV1", "SEV2"]}. A step whose condition fails is skipped.
    condition = models.JSONField(default=dict, blank=True)
    # round_robin: who is next, advanced under a row lock across incidents.
    round_robin_cursor = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["policy", "position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class Escalation(models.Model):
    """The escalation of one incident: a snapshot of its policy and where it stands."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        STOPPED = "stopped", "Stopped"
        EXHAUSTED = "exhausted", "Exhausted"

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="escalation"
    )
    policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The policy as it was when escalation started: editing the policy does not change it.
    snapshot = models.JSONField(default=dict)
    run = models.PositiveIntegerField(default=1, help_text="Incremented on re-trigger and reopen.")
    step_index = models.PositiveIntegerField(default=0)
    repeat = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=15, choices=State.choices, default=State.ACTIVE)
    next_at = models.DateTimeField(null=True, blank=True)
    ack_deadline = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_at"], condition=models.Q(state="active"), name="escalation_due"
            ),
            models.Index(
                fields=["ack_deadline"],
                condition=models.Q(state="acknowledged"),
                name="escalation_ack_due",
            ),
        ]

    def __str__(self) -> str:
        return f"escalation of #{self.incident_id} (run {self.run}, {self.state})"


class Notification(models.Model):
    """One message to one person (or webhook) for one step of one run. `key` is unique: a race
    or a retry can never create a second row for the same page."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="notifications"
    )
    run = models.PositiveIntegerField()
    step = models.IntegerField(help_text="Step position; -1 for fallback, -2 for resolve notices.")
    repeat = models.PositiveIntegerField(default=0)
    user = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    contact_method_id = models.PositiveBigIntegerField(null=True, blank=True)
    rule_position = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=20)
    address = models.CharField(max_length=1000)
    purpose = models.CharField(
        max_length=20, default="page", help_text="page, or resolved (telling those paged)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["due_at"], condition=models.Q(status="pending"), name="notification_due"
            ),
        ]

    def __str__(self) -> str:
        # Never the address: for webhooks it is a secret URL.
        return f"{self.channel} notification {self.key} ({self.status})"
