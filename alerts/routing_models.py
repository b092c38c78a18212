"""Data for routing and noise control: routes, the service catalog with its dependencies,
silences, maintenance windows and inhibit rules.

Matchers everywhere are a list of {"field": ..., "op": ..., "value": ...}: field is a normalized
alert field (name, summary, severity, source, service, status, integration, kind) or
`labels.<name>`; op is one of = != =~ !~ exists absent. All matchers of a list must hold.
"""

from django.conf import settings
from django.db import models

USER = settings.AUTH_USER_MODEL


class Route(models.Model):
    """An ordered routing rule: global (no integration) or for one integration. First match
    wins unless `continue_matching`; an integration's default route catches the rest."""

    name = models.CharField(max_length=200)
    integration = models.ForeignKey(
        "alerts.Integration",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routes",
        help_text="Empty: a global route, tried after the integration's.",
    )
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="The integration's catch-all, used when no other route matches."
    )
    matchers = models.JSONField(default=list, blank=True)
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The owner team (empty: the integration's team, or the service's owner).",
    )
    use_service_owner = models.BooleanField(
        default=False, help_text="Route to the owner team of the alert's service in the catalog."
    )
    escalation_policy = models.ForeignKey(
        "incidents.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    severity_override = models.CharField(
        max_length=4, blank=True, help_text="SEV1 to SEV4 for incidents opened through this route."
    )
    continue_matching = models.BooleanField(default=False)
    group_by = models.JSONField(
        default=list,
        blank=True,
        help_text='Fields that make the group key, e.g. ["service", "name"] (the default).',
    )
    group_window_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Join an open incident of the group opened within this many "
        "minutes (0: any open incident of the group).",
    )
    group_wait_seconds = models.PositiveIntegerField(
        default=30, help_text="Hold escalation this long so a burst lands in one incident."
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["integration_id", "position", "id"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    """A service or a component (host, switch, database) in the catalog. Services are found from
    incoming alerts; a manager sets the owner, the tier and the dependencies."""

    class Kind(models.TextChoices):
        SERVICE = "service", "Service"
        HOST = "host", "Host"
        NETWORK = "network", "Network device"
        DATABASE = "database", "Database"
        OTHER = "other", "Other component"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SERVICE)
    owner_team = models.ForeignKey(
        "teams.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    tier = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 = most critical.")
    description = models.TextField(blank=True)
    discovered = models.BooleanField(
        default=False, help_text="Created from an incoming alert, not by a person."
    )
    first_seen = models.DateTimeField(null=True, blank=True)
    last_alert_at = models.DateTimeField(null=True, blank=True)
    depends_on = models.ManyToManyField(
        "self",
        symmetrical=False,
        through="ServiceDependency",
        related_name="dependents",
        blank=True,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceDependency(models.Model):
    """`service` depends on `depends_on` (a database on its hosts, the hosts on their switch)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    depends_on = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "depends_on"], name="dependency_once"),
            models.CheckConstraint(
                condition=~models.Q(service=models.F("depends_on")), name="dependency_not_on_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} → {self.depends_on}"


class Silence(models.Model):
    """Matching alerts are stored and visible but page nobody between starts_at and ends_at."""

    matchers = models.JSONField(default=list)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    comment = models.TextField(help_text="Why.")
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the end was handled: alerts still firing routed as new, resolved ones resolved.
    ended_handled_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["ends_at"], name="silence_ends")]

    def __str__(self) -> str:
        return f"silence until {self.ends_at:%Y-%m-%d %H:%M}: {self.comment[:40]}"


class MaintenanceWindow(models.Model):
    """A change window: one-off (starts_at/ends_at) or weekly (weekdays, local start time and
    duration in a named time zone, correct across daylight-saving changes)."""

    name = models.CharField(max_length=200)
    matchers = models.JSONField(default=list)
    reason = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="One-off: start.")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="One-off: end.")
    weekdays = models.JSONField(
        default=list, blank=True, help_text="Weekly: 0 = Monday … 6 = Sunday."
    )
    start_time = models.TimeField(null=True, blank=True, help_text="Weekly: local start.")
    duration_minutes = models.PositiveIntegerField(default=0, help_text="Weekly: length.")
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The end of the last occurrence whose end was handled.
    last_end_handled = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InhibitRule(models.Model):
    """Alertmanager-style: while an alert matching `source_matchers` fires, alerts matching
    `target_matchers` with the same values of the `equal` labels are suppressed."""

    name = models.CharField(max_length=200)
    source_matchers = models.JSONField(default=list)
    target_matchers = models.JSONField(default=list)
    equal = models.JSONField(
        default=list, blank=True, help_text='Labels that must be equal, e.g. ["cluster"].'
    )
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
