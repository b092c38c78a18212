from django.contrib import admin

from .models import (
    ContactMethod,
    LayerMember,
    Membership,
    NotificationRule,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
    Team,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "in_ioc", "member_count", "created_at"]
    list_filter = ["in_ioc"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    @admin.display(description="members")
    def member_count(self, team):
        return team.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team", "team__in_ioc"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]


# --- on-call schedules ---------------------------------------------------------------------


class ScheduleLayerInline(admin.StackedInline):
    model = ScheduleLayer
    extra = 0
    ordering = ["-position", "id"]
    show_change_link = True  # members are edited on the layer's own page
    fields = [
        ("name", "position"),
        ("rotation_kind", "shift_length"),
        ("start", "handoff_time"),
        ("restrict_days", "restrict_start", "restrict_end"),
    ]


class ScheduleOverrideInline(admin.TabularInline):
    model = ScheduleOverride
    extra = 0
    fk_name = "schedule"
    ordering = ["-start"]
    autocomplete_fields = ["user", "replaces"]
    fields = ["user", "start", "end", "replaces", "reason", "created_by"]
    readonly_fields = ["created_by"]


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone", "layer_count", "created_at"]
    list_filter = ["team", "time_zone"]
    search_fields = ["name", "team__name", "description"]
    autocomplete_fields = ["team"]
    inlines = [ScheduleLayerInline, ScheduleOverrideInline]

    @admin.display(description="layers")
    def layer_count(self, schedule):
        return schedule.layers.count()

    def save_formset(self, request, form, formset, change):
        # Overrides added here are recorded as made by the administrator.
        for instance in formset.save(commit=False):
            if isinstance(instance, ScheduleOverride) and instance.created_by_id is None:
                instance.created_by = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


class LayerMemberInline(admin.TabularInline):
    model = LayerMember
    extra = 0
    ordering = ["position", "id"]
    autocomplete_fields = ["user"]


@admin.register(ScheduleLayer)
class ScheduleLayerAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "position", "rotation_kind", "handoff_time", "start"]
    list_filter = ["rotation_kind", "schedule__team"]
    search_fields = ["name", "schedule__name", "schedule__team__name"]
    autocomplete_fields = ["schedule"]
    inlines = [LayerMemberInline]


@admin.register(ScheduleOverride)
class ScheduleOverrideAdmin(admin.ModelAdmin):
    list_display = ["user", "schedule", "start", "end", "replaces", "reason", "created_by"]
    list_filter = ["schedule__team", "schedule"]
    search_fields = ["user__username", "replaces__username", "reason", "schedule__name"]
    autocomplete_fields = ["schedule", "user", "replaces"]
    readonly_fields = ["created_by", "created_at", "external_uid"]
    date_hierarchy = "start"

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# --- contact methods and personal notification rules ---------------------------------------


@admin.register(ContactMethod)
class ContactMethodAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "label", "address", "verified", "created_at"]
    list_filter = ["kind", "verified"]
    search_fields = ["user__username", "user__email", "address", "label"]
    autocomplete_fields = ["user"]


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    list_display = ["user", "contact_method", "delay_minutes", "urgency", "position"]
    list_filter = ["urgency", "contact_method__kind"]
    search_fields = ["user__username", "contact_method__address", "contact_method__label"]
    autocomplete_fields = ["user", "contact_method"]
