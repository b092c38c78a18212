"""Records around an incident: hand-offs, responders, status updates, checklists and runbooks,
postmortems and shift hand-over notes. Each change to them is also a timeline event."""

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class HandOff(models.Model):
    """Ownership moved from one team to another: a first-class record, not just a field edit."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="hand_offs"
    )
    from_team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="+")
    to_team = models.ForeignKey("teams.Team", on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"#{self.incident_id}: {self.from_team} → {self.to_team}"


class IncidentResponder(models.Model):
    """A person or a whole team working the incident, whichever team they come from."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="responders"
    )
    user = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    added_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(team__isnull=False),
                name="responder_is_a_user_or_a_team",
            ),
            models.UniqueConstraint(
                fields=["incident", "user"],
                condition=models.Q(user__isnull=False),
                name="responder_user_once",
            ),
            models.UniqueConstraint(
                fields=["incident", "team"],
                condition=models.Q(team__isnull=False),
                name="responder_team_once",
            ),
        ]

    def __str__(self) -> str:
        return str(self.user or self.team)


class StatusUpdate(models.Model):
    """A stakeholder update; major incidents owe one at a set cadence."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="status_updates"
    )
    body = models.TextField()
    author = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return self.body[:60]


class RunbookTemplate(models.Model):
    """Steps applied as a checklist when an incident opens for a matching service or alert."""

    name = models.CharField(max_length=200)
    service = models.CharField(
        max_length=200, blank=True, help_text="Applies to incidents of this service (empty: any)."
    )
    alert_name = models.CharField(
        max_length=255, blank=True, help_text="Applies to incidents opened by this alert name."
    )
    steps = models.JSONField(
        default=list,
        help_text='A list of steps: [{"title": "Check replication", "link": "https://…"}].',
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="checklist"
    )
    title = models.CharField(max_length=500)
    link = models.URLField(max_length=1000, blank=True)
    position = models.PositiveIntegerField(default=0)
    template = models.ForeignKey(
        RunbookTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class Postmortem(models.Model):
    """Required for SEV1/SEV2 before closing."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.PROTECT, related_name="postmortem"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    summary = models.TextField(blank=True)
    impact_customers = models.TextField("customers affected", blank=True)
    impact_duration = models.CharField("duration of impact", max_length=200, blank=True)
    impact_services = models.TextField("services affected", blank=True)
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Postmortem of #{self.incident_id}"


class ActionItem(models.Model):
    postmortem = models.ForeignKey(
        Postmortem, on_delete=models.CASCADE, related_name="action_items"
    )
    title = models.CharField(max_length=500)
    owner = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField(null=True, blank=True)
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["done", "due_date", "id"]

    def __str__(self) -> str:
        return self.title


class ShiftHandover(models.Model):
    """The note one shift leaves the next: open incidents, what was done, what to watch."""

    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    shift = models.CharField(max_length=100, help_text="e.g. 'night 22:00-06:00'.")
    open_incidents = models.JSONField(
        default=list, help_text="Snapshot of the open incidents when the note was written."
    )
    done = models.TextField("what was done", blank=True)
    watch = models.TextField("what to watch", blank=True)
    acknowledged_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.shift} by {self.author}"
