"""Escalation in the admin: policies with their ordered steps (editable), and each incident's
escalation and notifications (read-only: the engine writes them).

A webhook's URL is its secret: lists show the channel and a masked address, and an escalation's
page shows its snapshot in words, never the raw JSON with the URLs in it.
"""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html_join

from teams.models import Schedule

from .admin_base import ReadOnlyAdmin
from .escalation import spec_from_snapshot
from .escalation_models import Escalation, EscalationPolicy, EscalationStep, Notification
from .escalation_policies import (
    StepInput,
    escalation_last_step_index,
    escalation_policy_defaults_clear,
    escalation_step_describe,
    escalation_step_errors,
    escalation_step_normalized,
    escalation_steps_renumber,
    notification_address_masked,
)

KIND_HELP = (
    "Which fields each kind uses — notify the on-call of a schedule: schedule. Named users, "
    "round robin: users. Whole team, team's manager, hand off: team (empty: the incident's "
    "team). Webhook: URL and format. Repeat: repeat times and repeat from. Wait: nothing but "
    "its wait. Every kind but repeat: wait minutes (after the step) and an optional condition."
)
CONDITION_HELP = (
    'Optional, in the policy\'s time zone: {"weekdays": [0, 1, 2, 3, 4], "from": "08:00", '
    '"to": "18:00", "severities": ["SEV1", "SEV2"]}. 0 = Monday; from after to spans midnight '
    '(nights: "from": "18:00", "to": "08:00"). A step whose condition does not hold is skipped.'
)


class EscalationStepForm(forms.ModelForm):
    # The step stores a schedule's id (teams owns schedules); the admin offers a choice.
    schedule = forms.ModelChoiceField(
        queryset=Schedule.objects.select_related("team").order_by("team__name", "name"),
        required=False,
        help_text="notify_schedule: whose on-call to page (any team's schedule).",
    )
    webhook_url = forms.URLField(
        max_length=1000,
        required=False,
        assume_scheme="https",
        help_text="webhook: an http(s) URL (https for Slack and Teams). Kept secret: lists and "
        "the incident page show only its host.",
    )

    class Meta:
        model = EscalationStep
        fields = [
            "position",
            "kind",
            "schedule",
            "team",
            "users",
            "webhook_url",
            "webhook_format",
            "wait_minutes",
            "repeat_times",
            "repeat_from",
            "condition",
        ]
        help_texts = {
            "position": "Order of the steps; saved as 1, 2, 3… (repeat from counts these).",
            "kind": KIND_HELP,
            "webhook_format": "webhook: the message format (empty: generic JSON).",
            "condition": CONDITION_HELP,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        schedule_id = self.instance.schedule_id
        if schedule_id:
            self.initial.setdefault("schedule", schedule_id)

    def clean_condition(self):
        return self.cleaned_data.get("condition") or {}

    def step_input(self) -> StepInput:
        data = self.cleaned_data
        schedule = data.get("schedule")
        return StepInput(
            kind=data.get("kind") or "",
            position=data.get("position"),
            schedule_id=schedule.pk if schedule else None,
            team=data.get("team"),
            users=tuple(data.get("users") or ()),
            webhook_url=(data.get("webhook_url") or "").strip(),
            webhook_format=data.get("webhook_format") or "",
            wait_minutes=data.get("wait_minutes") or 0.0,
            repeat_times=data.get("repeat_times") or 0,
            repeat_from=data.get("repeat_from") or 1,
            condition=data.get("condition") or {},
        )

    def apply(self, step: StepInput) -> None:
        """Save the normalized step: fields its kind does not use are cleared. The instance was
        built before the formset's clean, so set it directly; users (m2m) save from here."""
        for name in (
            "schedule_id",
            "team",
            "webhook_url",
            "webhook_format",
            "repeat_times",
            "repeat_from",
            "condition",
        ):
            setattr(self.instance, name, getattr(step, name))
        self.cleaned_data["users"] = list(step.users)


class EscalationStepFormSet(forms.BaseInlineFormSet):
    """Checks each step by its kind with the same rules as the API (escalation_policies)."""

    def clean(self):
        super().clean()
        forms_in_order = sorted(
            (
                form
                for form in self.forms
                if form.is_valid()
                and (form.has_changed() or form.instance.pk)
                and not self._should_delete_form(form)
            ),
            key=lambda form: (form.cleaned_data.get("position") or 0, form.instance.pk or 0),
        )
        steps = [form.step_input() for form in forms_in_order]
        kinds = [step.kind for step in steps]
        for ordinal, (form, step) in enumerate(zip(forms_in_order, steps, strict=True), start=1):
            errors = escalation_step_errors(step, ordinal=ordinal, kinds=kinds)
            for name, message in errors.items():
                form.add_error("schedule" if name == "schedule_id" else name, message)
            if not errors:
                form.apply(escalation_step_normalized(step))


class EscalationStepInline(admin.StackedInline):
    model = EscalationStep
    form = EscalationStepForm
    formset = EscalationStepFormSet
    extra = 0
    ordering = ["position", "id"]
    autocomplete_fields = ["team", "users"]
    fieldsets = [
        (None, {"fields": [("position", "kind")]}),
        ("Who", {"fields": [("schedule", "team"), "users"]}),
        ("Webhook", {"fields": [("webhook_url", "webhook_format")]}),
        (
            "Timing",
            {"fields": [("wait_minutes", "repeat_times", "repeat_from"), "condition"]},
        ),
    ]


class EscalationPolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ["name", "team", "is_default", "description", "time_zone", "ack_timeout_minutes"]

    def _get_validation_exclusions(self):
        # Saving a new default clears the old one (EscalationPolicyAdmin.save_model), so the
        # one-default constraint is not an input error here.
        exclusions = super()._get_validation_exclusions()
        exclusions.add("is_default")
        return exclusions

    def clean_time_zone(self):
        from teams.schedules import time_zone_error

        value = self.cleaned_data.get("time_zone", "").strip()
        if value and (problem := time_zone_error(value)):
            raise forms.ValidationError(problem)
        return value


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    form = EscalationPolicyForm
    list_display = ["name", "team", "is_default", "step_count", "ack_timeout_minutes", "updated_at"]
    list_filter = ["is_default", "team", "team__in_ioc"]
    search_fields = ["name", "team__name", "team__slug", "description"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    inlines = [EscalationStepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(step_total=Count("steps"))

    @admin.display(description="steps", ordering="step_total")
    def step_count(self, policy):
        return policy.step_total

    def save_model(self, request, obj, form, change):
        if obj.is_default:
            # In the admin's transaction, before the save, or the constraint refuses it.
            escalation_policy_defaults_clear(team=obj.team, keep=obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        escalation_steps_renumber(policy=form.instance)


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):  # written by the escalation engine only
    list_display = ["incident", "run", "state", "step", "next_at", "policy_name"]
    list_filter = ["state"]
    search_fields = ["=incident__number", "incident__title"]
    list_select_related = ["incident"]
    date_hierarchy = "started_at"
    # No `snapshot`: its JSON holds webhook URLs; `steps` shows it in words.
    fields = [
        "incident",
        "policy",
        "policy_name",
        "run",
        "state",
        "step",
        "repeat",
        "next_at",
        "ack_deadline",
        "started_at",
        "updated_at",
        "steps",
    ]
    readonly_fields = fields

    @admin.display(description="policy (snapshot)")
    def policy_name(self, escalation):
        return escalation.snapshot.get("name", "")

    @admin.display(description="step (last run)")
    def step(self, escalation):
        last = escalation_last_step_index(escalation)
        count = len(escalation.snapshot.get("steps", []))
        return "—" if last is None else f"{last + 1} of {count}"

    @admin.display(description="steps (as snapshotted)")
    def steps(self, escalation):
        spec = spec_from_snapshot(escalation.snapshot)
        return format_html_join(
            "",
            "<div>{}. {}</div>",
            ((n, escalation_step_describe(step)) for n, step in enumerate(spec.steps, start=1)),
        )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):  # likewise
    list_display = [
        "incident",
        "user",
        "channel",
        "masked_address",
        "purpose",
        "status",
        "attempts",
        "due_at",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "channel", "purpose"]
    # Never the address: searching by it would let one probe a webhook's secret URL.
    search_fields = ["=incident__number", "incident__title", "user__username", "key"]
    list_select_related = ["incident", "user"]
    date_hierarchy = "due_at"
    fields = [
        "key",
        "incident",
        "run",
        "step",
        "repeat",
        "user",
        "channel",
        "masked_address",
        "purpose",
        "status",
        "attempts",
        "due_at",
        "sent_at",
        "last_error",
        "created_at",
    ]
    readonly_fields = fields

    def get_object(self, request, object_id, from_field=None):
        notification = super().get_object(request, object_id, from_field)
        if notification is not None:
            # Notification.__str__ (the page's title) shows the address: mask it on this
            # copy, which nothing here can save (the admin is read-only).
            notification.address = notification_address_masked(
                channel=notification.channel, address=notification.address
            )
        return notification

    @admin.display(description="address")
    def masked_address(self, notification):
        return notification_address_masked(
            channel=notification.channel, address=notification.address
        )

    @admin.display(description="last error")
    def short_error(self, notification):
        error = notification.last_error
        return error if len(error) <= 80 else f"{error[:79]}…"
