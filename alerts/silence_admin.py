"""Admin for silences, maintenance windows and inhibit rules (registered from alerts/admin.py).

The forms run the services' own checks (alerts/suppression.py): matchers that compile and do
not match everything, a reason, an end after the start, a real time zone, a complete weekly
window. The admin records its own LogEntry for each change, with the acting user; expiring a
silence goes through `silence_expire`, which records one too.
"""

from django import forms
from django.contrib import admin
from django.utils import timezone

from .models import InhibitRule, MaintenanceWindow, Silence
from .suppression import (
    inhibit_rule_errors,
    maintenance_window_errors,
    maintenance_window_occurrences,
    silence_errors,
    silence_expire,
    silence_state,
    silencers_cache_clear,
    window_spec_of,
)
from .windows import describe


def _add_errors(form: forms.ModelForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        form.add_error(name if name in form.fields else None, message)


class SilenceForm(forms.ModelForm):
    class Meta:
        model = Silence
        fields = ["matchers", "starts_at", "ends_at", "comment"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # An existing silence may be shortened into the past (that expires it); a new one
        # must end in the future.
        now = timezone.now() if self.instance.pk is None else data["starts_at"]
        _add_errors(
            self,
            silence_errors(
                matchers=data.get("matchers"),
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                comment=data.get("comment", ""),
                now=now,
            ),
        )
        return data


class MaintenanceWindowForm(forms.ModelForm):
    class Meta:
        model = MaintenanceWindow
        fields = [
            "name",
            "matchers",
            "reason",
            "enabled",
            "time_zone",
            "starts_at",
            "ends_at",
            "weekdays",
            "start_time",
            "duration_minutes",
        ]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        weekdays = data.get("weekdays") or []
        if not isinstance(weekdays, list):
            self.add_error("weekdays", "a list of weekday numbers (0 = Monday … 6 = Sunday)")
            return data
        data["weekdays"] = weekdays  # left empty: [] rather than null
        draft = MaintenanceWindow(**{name: data.get(name) for name in self.Meta.fields})
        draft.duration_minutes = data.get("duration_minutes") or 0
        _add_errors(
            self,
            maintenance_window_errors(
                name=data.get("name", ""),
                matchers=data.get("matchers"),
                reason=data.get("reason", ""),
                spec=window_spec_of(draft),
            ),
        )
        return data


class InhibitRuleForm(forms.ModelForm):
    class Meta:
        model = InhibitRule
        fields = ["name", "enabled", "source_matchers", "target_matchers", "equal"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        _add_errors(
            self,
            inhibit_rule_errors(
                name=data.get("name", ""),
                source_matchers=data.get("source_matchers"),
                target_matchers=data.get("target_matchers"),
                equal=data.get("equal") or [],
            ),
        )
        return data


class _CreatedByAdmin(admin.ModelAdmin):
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        # This process's batches see the change at once, not after the cache's second.
        silencers_cache_clear()


@admin.register(Silence)
class SilenceAdmin(_CreatedByAdmin):
    form = SilenceForm
    list_display = ["id", "comment", "starts_at", "ends_at", "state", "created_by"]
    list_select_related = ["created_by"]
    search_fields = ["comment", "created_by__username"]
    date_hierarchy = "starts_at"
    readonly_fields = ["created_by", "created_at", "ended_handled_at"]
    actions = ["expire"]

    @admin.display(description="State")
    def state(self, obj: Silence) -> str:
        return silence_state(obj, timezone.now())

    def save_model(self, request, obj, form, change):
        if change and obj.ends_at > timezone.now():
            # Extended past its end: its end has not happened yet, whatever was handled.
            obj.ended_handled_at = None
        super().save_model(request, obj, form, change)

    @admin.action(description="Expire now (alerts still firing are routed as new)")
    def expire(self, request, queryset):
        for silence in queryset:
            silence_expire(silence=silence, actor=request.user, via="admin")
        self.message_user(request, f"{queryset.count()} silence(s) expired.")


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(_CreatedByAdmin):
    form = MaintenanceWindowForm
    list_display = ["name", "enabled", "time_zone", "schedule", "next_occurrence", "created_by"]
    list_filter = ["enabled", "time_zone"]
    list_select_related = ["created_by"]
    search_fields = ["name", "reason"]
    readonly_fields = ["created_by", "created_at", "last_end_handled"]
    fieldsets = [
        (None, {"fields": ["name", "matchers", "reason", "enabled", "time_zone"]}),
        ("One-off", {"fields": ["starts_at", "ends_at"]}),
        (
            "Weekly",
            {
                "fields": ["weekdays", "start_time", "duration_minutes"],
                "description": "Opens at the local start time on each weekday (0 = Monday) "
                "and stays open for the duration in real minutes, across daylight-saving "
                "changes too.",
            },
        ),
        (None, {"fields": ["created_by", "created_at", "last_end_handled"]}),
    ]

    @admin.display(description="Schedule")
    def schedule(self, obj: MaintenanceWindow) -> str:
        return describe(window_spec_of(obj))

    @admin.display(description="Open now / next")
    def next_occurrence(self, obj: MaintenanceWindow) -> str:
        active, upcoming = maintenance_window_occurrences(window=obj, at=timezone.now(), count=1)
        if not upcoming:
            return "—"
        opens, closes = upcoming[0]
        return f"{'open, ' if active else ''}{opens:%Y-%m-%d %H:%M} to {closes:%Y-%m-%d %H:%M} UTC"


@admin.register(InhibitRule)
class InhibitRuleAdmin(_CreatedByAdmin):
    form = InhibitRuleForm
    list_display = ["name", "enabled", "equal", "created_by", "created_at"]
    list_filter = ["enabled"]
    list_select_related = ["created_by"]
    search_fields = ["name"]
