from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, RegexValidator, URLValidator
from django.db import models


class Team(models.Model):
    """A team of the operations floor (in_ioc) or outside it (application or vendor teams).

    Whether a team is inside the IOC decides the KPI "resolved inside the IOC".
    """

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    in_ioc = models.BooleanField(
        "inside the IOC",
        default=True,
        help_text="First line, DBA, network and server teams are inside the IOC; application "
        "and vendor teams are outside.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MANAGER = "manager", "Manager"
        # Sees the team's incidents (stakeholders, auditors) but may not act on them.
        OBSERVER = "observer", "Observer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="membership_unique_user_team")
        ]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


# --- people: how to reach them -------------------------------------------------------------

E164 = RegexValidator(r"^\+[1-9][0-9]{6,14}$", "a phone number in E.164 form, e.g. +4930123456789")


def contact_address_errors(kind: str, address: str) -> list[str]:
    """What is wrong with an address for its kind (empty: fine). In-app needs none."""
    if kind == ContactMethod.Kind.IN_APP:
        return [] if not address else ["an in-app contact method has no address"]
    if not address:
        return ["an address is required"]
    validator = {
        ContactMethod.Kind.EMAIL: EmailValidator(),
        ContactMethod.Kind.SMS: E164,
        ContactMethod.Kind.VOICE: E164,
        # An in-house receiver may well be plain http; Slack and Teams are always https.
        ContactMethod.Kind.WEBHOOK: URLValidator(schemes=["http", "https"]),
    }.get(kind, URLValidator(schemes=["https"], message="an https:// URL"))
    try:
        validator(address)
    except ValidationError as exc:
        return exc.messages
    return []


class ContactMethod(models.Model):
    """A way to reach a person: an address of one kind. Webhook kinds (Slack, Microsoft Teams,
    generic) hold the incoming-webhook URL."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"
        VOICE = "voice", "Voice call"
        SLACK = "slack", "Slack webhook"
        TEAMS = "teams", "Microsoft Teams webhook"
        WEBHOOK = "webhook", "Outgoing webhook"
        IN_APP = "in_app", "In-app"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    address = models.CharField(
        max_length=500, blank=True, help_text="Email, E.164 phone number or https:// URL."
    )
    label = models.CharField(max_length=100, blank=True)
    # Nothing verifies yet; notifiers may choose to skip unverified methods.
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__username", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label or self.address}".strip()

    def clean(self) -> None:
        if errors := contact_address_errors(self.kind, self.address):
            raise ValidationError({"address": errors})


class NotificationRule(models.Model):
    """A personal rule: reach me by this method this many minutes after I am paged (unless
    acknowledged by then). High-only rules apply to high-urgency pages only."""

    class Urgency(models.TextChoices):
        ALL = "all", "Any urgency"
        HIGH = "high", "High urgency only"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.CASCADE, related_name="rules"
    )
    delay_minutes = models.PositiveIntegerField(default=0)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ALL)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["user__username", "delay_minutes", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(delay_minutes__lte=24 * 60),
                name="notificationrule_delay_at_most_a_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.contact_method} after {self.delay_minutes} min"

    def clean(self) -> None:
        if self.contact_method_id and self.user_id != self.contact_method.user_id:
            raise ValidationError({"contact_method": "must be one of this person's own methods"})


# --- on-call schedules ---------------------------------------------------------------------


def validate_time_zone(value: str) -> None:
    from .schedules import time_zone_error

    if error := time_zone_error(value):
        raise ValidationError(error)


class Schedule(models.Model):
    """A team's on-call schedule: layers of rotations plus overrides, in one named time zone.
    Who is on call is computed by teams.schedules from this data."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=100)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin. Hand-offs follow this zone's wall clock.",
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="schedule_unique_team_name")
        ]

    def __str__(self) -> str:
        return f"{self.team}: {self.name}"


class ScheduleLayer(models.Model):
    class Rotation(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        CUSTOM = "custom", "Custom length"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(
        default=0, help_text="Precedence: where layers overlap, the higher position wins."
    )
    rotation_kind = models.CharField(
        max_length=10, choices=Rotation.choices, default=Rotation.WEEKLY
    )
    shift_length = models.DurationField(
        null=True, blank=True, help_text="Custom rotations only, e.g. 12:00:00 or 3 days."
    )
    handoff_time = models.TimeField(default=time(9, 0), help_text="Local time of the hand-off.")
    start = models.DateField(
        help_text="Local date of the first shift; weekly rotations hand off on its weekday."
    )
    # Optional restriction: active only inside a daily window, on some weekdays.
    restrict_days = models.CharField(
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^[0-6]*$", "weekday digits, 0 = Monday … 6 = Sunday")],
        help_text="Weekdays the layer is active, as digits (0 = Monday), e.g. 01234. Blank: all.",
    )
    restrict_start = models.TimeField(null=True, blank=True)
    restrict_end = models.TimeField(
        null=True, blank=True, help_text="Before the start: the window crosses midnight."
    )

    class Meta:
        ordering = ["schedule", "-position", "id"]

    def __str__(self) -> str:
        return f"{self.schedule} / {self.name}"

    def clean(self) -> None:
        from .schedules import ScheduleError, layer_errors, layer_spec_of

        try:
            spec = layer_spec_of(self)
        except ScheduleError:
            # Days that are not weekday digits: restrict_days' own validator says so (full_clean
            # runs it before clean); saying it twice would show the message twice. Check the rest.
            spec = layer_spec_of(self, restrict_days=frozenset())
        errors = layer_errors(spec)
        if "restriction" in errors:
            errors["restrict_start"] = errors.pop("restriction")
        if errors:
            raise ValidationError(errors)

    @property
    def restriction_label(self) -> str:
        """E.g. "Mon, Tue, Wed, Thu, Fri 09:00-17:00"; empty when unrestricted."""
        from .schedules import ScheduleError, parse_weekdays

        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        try:
            days = ", ".join(names[day] for day in sorted(parse_weekdays(self.restrict_days)))
        except ScheduleError:
            # A row changed behind the validators' back (the selectors leave such a layer out):
            # show it as stored rather than fail the page.
            days = f"days {self.restrict_days!r}"
        hours = ""
        if self.restrict_start is not None and self.restrict_end is not None:
            hours = f"{self.restrict_start:%H:%M}-{self.restrict_end:%H:%M}"
        return " ".join(part for part in (days or ("every day" if hours else ""), hours) if part)


class LayerMember(models.Model):
    layer = models.ForeignKey(ScheduleLayer, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="layer_memberships"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["layer", "position", "id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.layer}"


class ScheduleOverride(models.Model):
    """Someone on call instead for a while. With `replaces`, only while that person would be on
    call (a cover); two crossing ones are a shift swap. Without, whoever was on call."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedule_overrides"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    replaces = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The VEVENT UID it was imported from: importing the same file again updates, not doubles.
    external_uid = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["schedule", "start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="scheduleoverride_end_after_start",
            )
        ]
        indexes = [models.Index(fields=["schedule", "end"], name="override_schedule_end")]

    def __str__(self) -> str:
        return f"{self.user} on {self.schedule} {self.start:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "must be after the start"})
