from django.contrib import admin

from .models import Counter, Incident, IncidentEvent


class IncidentEventInline(admin.TabularInline):
    """The timeline, read-only: it is append-only and the KPIs are computed from it."""

    model = IncidentEvent
    fields = ["at", "kind", "actor", "via", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "title",
        "severity",
        "status",
        "team",
        "service",
        "alert_count",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
    ]
    list_filter = ["status", "severity", "team", "team__in_ioc", "opened_at"]
    search_fields = ["=number", "title", "service"]
    date_hierarchy = "opened_at"
    readonly_fields = [
        "number",
        "group_key",
        "alert_count",
        "opened_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
        "status",
        "updated_at",
    ]
    list_select_related = ["team"]
    inlines = [IncidentEventInline]

    def has_delete_permission(self, request, obj=None):
        # Incidents with history are closed, never deleted.
        return False


@admin.register(IncidentEvent)
class IncidentEventAdmin(admin.ModelAdmin):
    list_display = ["at", "incident", "kind", "actor", "via", "message"]
    list_filter = ["kind", "via", "at"]
    search_fields = ["message", "incident__title", "=incident__number"]
    list_select_related = ["incident", "actor"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ["name", "value"]

    def has_change_permission(self, request, obj=None):
        return False
