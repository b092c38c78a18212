from django.contrib import admin

from .models import Alert, InboundEvent, Integration
from .services import integration_ingest_url, integration_issue_token, integration_rotate_token


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "team",
        "enabled",
        "default_severity",
        "token_hint",
        "created_at",
    ]
    list_filter = ["kind", "enabled", "team"]
    search_fields = ["name", "team__name"]
    readonly_fields = ["token_hint", "previous_token_valid_until", "last_ping_at", "created_at"]
    actions = ["rotate_token"]
    list_select_related = ["team"]
    fields = [
        "name",
        "kind",
        "team",
        "enabled",
        "default_severity",
        "rate_limit_per_minute",
        "config",
        "token_hint",
        "previous_token_valid_until",
        "last_ping_at",
        "created_at",
    ]

    @admin.action(description="Rotate the token (the old one stays valid for the grace period)")
    def rotate_token(self, request, queryset):
        for integration in queryset:
            token = integration_rotate_token(integration=integration)
            url = integration_ingest_url(token=token, base_url=request.build_absolute_uri("/"))
            self.message_user(
                request, f"{integration.name}: new webhook URL (shown once, store it now): {url}"
            )

    def save_model(self, request, obj, form, change):
        token = None if change else integration_issue_token(integration=obj)
        super().save_model(request, obj, form, change)
        if token is not None:
            url = integration_ingest_url(token=token, base_url=request.build_absolute_uri("/"))
            self.message_user(request, f"Webhook URL (shown once, store it now): {url}")


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["id", "integration", "received_at", "status", "attempts", "error"]
    list_filter = ["status", "integration"]
    search_fields = ["=id", "error", "body"]
    date_hierarchy = "received_at"
    list_select_related = ["integration"]
    readonly_fields = [
        "integration",
        "received_at",
        "content_type",
        "headers",
        "body",
        "status",
        "attempts",
        "error",
        "result",
        "processed_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "summary",
        "status",
        "severity",
        "source",
        "service",
        "count",
        "flapping",
        "incident",
        "last_seen",
    ]
    list_filter = ["status", "severity", "flapping", "integration", "integration__team"]
    search_fields = ["fingerprint", "name", "summary", "source", "service"]
    date_hierarchy = "last_seen"
    list_select_related = ["incident", "integration"]
    readonly_fields = [
        "integration",
        "fingerprint",
        "count",
        "first_seen",
        "last_seen",
        "resolved_at",
        "labels",
        "source_started_at",
        "flapping",
    ]
    raw_id_fields = ["incident"]


from . import catalog_admin, routing_admin, silence_admin  # noqa: E402,F401
