from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from .admin_base import ReadOnlyAdmin
from .checklists import runbook_steps_parse
from .handover import HandoverAlreadyAcknowledged, HandoverOwnNote, shift_handover_acknowledge
from .models import (
    ActionItem,
    ChecklistItem,
    Counter,
    HandOff,
    Incident,
    IncidentEvent,
    IncidentResponder,
    Postmortem,
    RunbookTemplate,
    ShiftHandover,
    StatusUpdate,
    Via,
)
from .postmortems import (
    CONTENT_FIELDS,
    PostmortemConflict,
    action_item_add,
    action_item_set_done,
    action_item_update,
    postmortem_publish,
    postmortem_update,
)


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


class _ReadOnlyInline(admin.TabularInline):
    """Records that change only through the services (and so through the timeline)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class HandOffInline(_ReadOnlyInline):
    model = HandOff
    fields = ["at", "from_team", "to_team", "reason", "by", "accepted_at", "accepted_by"]


class IncidentResponderInline(_ReadOnlyInline):
    model = IncidentResponder
    fields = ["user", "team", "added_by", "added_at"]


class StatusUpdateInline(_ReadOnlyInline):
    model = StatusUpdate
    fields = ["at", "author", "body"]


class ChecklistItemInline(_ReadOnlyInline):
    model = ChecklistItem
    fields = ["position", "title", "link", "template", "assignee", "done_at", "done_by"]


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
        # State changes go through the services, which write the timeline; the admin shows them.
        "description",
        "declared_by",
        "commander",
        "communications_lead",
        "scribe",
        "escalated_outside",
        "resolving_team",
        "resolution_code",
        "resolution_summary",
        "closed_at",
        "merged_into",
        "next_status_update_at",
        "postmortem_link",
    ]
    list_select_related = ["team"]
    inlines = [
        HandOffInline,
        IncidentResponderInline,
        StatusUpdateInline,
        ChecklistItemInline,
        IncidentEventInline,
    ]

    @admin.display(description="postmortem")
    def postmortem_link(self, obj):
        postmortem = Postmortem.objects.filter(incident=obj).first() if obj.pk else None
        if postmortem is None:
            return "required, not started" if obj.is_major else "none"
        url = reverse("admin:incidents_postmortem_change", args=[postmortem.pk])
        return format_html('<a href="{}">{}</a>', url, postmortem.get_state_display())

    def has_delete_permission(self, request, obj=None):
        # Incidents with history are closed, never deleted.
        return False


@admin.register(IncidentEvent)
class IncidentEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "incident", "kind", "actor", "via", "message"]
    list_filter = ["kind", "via", "at"]
    search_fields = ["message", "incident__title", "=incident__number"]
    list_select_related = ["incident", "actor"]
    date_hierarchy = "at"


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    list_display = ["name", "value"]

    def has_change_permission(self, request, obj=None):
        return False


class RunbookTemplateForm(forms.ModelForm):
    class Meta:
        model = RunbookTemplate
        fields = ["name", "service", "alert_name", "steps", "enabled"]

    def clean_steps(self):
        steps = self.cleaned_data["steps"]
        try:
            runbook_steps_parse(steps)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        return steps


@admin.register(RunbookTemplate)
class RunbookTemplateAdmin(admin.ModelAdmin):
    """Runbooks are configuration: edited here, applied by checklist_apply_runbooks."""

    form = RunbookTemplateForm
    list_display = ["name", "service", "alert_name", "step_count", "enabled"]
    list_filter = ["enabled"]
    search_fields = ["name", "service", "alert_name"]

    @admin.display(description="steps")
    def step_count(self, obj):
        return len(obj.steps) if isinstance(obj.steps, list) else 0


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    fields = ["title", "owner", "due_date", "done"]
    extra = 1
    can_delete = False


@admin.register(Postmortem)
class PostmortemAdmin(admin.ModelAdmin):
    """Edits go through the postmortem services, so each one lands on the incident's timeline.
    Postmortems are started from the incident page or the API, never added here."""

    list_display = ["incident", "state", "created_by", "created_at", "published_at"]
    list_filter = ["state"]
    search_fields = ["=incident__number", "incident__title", "summary"]
    list_select_related = ["incident", "created_by"]
    fields = [
        "incident",
        "state",
        *CONTENT_FIELDS,
        "created_by",
        "created_at",
        "updated_at",
        "published_at",
    ]
    inlines = [ActionItemInline]
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["incident", "state", "created_by", "created_at", "updated_at", "published_at"]
        if obj is not None and obj.state == Postmortem.State.PUBLISHED:
            return [*fixed, *CONTENT_FIELDS]
        return fixed

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        if not changes:
            return
        try:
            postmortem_update(postmortem=obj, actor=request.user, via=Via.ADMIN, **changes)
        except (PostmortemConflict, ValidationError) as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ActionItem:
            return super().save_formset(request, form, formset, change)
        # Django's change message reads these lists, which formset.save() would have filled.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed():
                continue
            data = item_form.cleaned_data
            if item_form.instance.pk is None:
                item = action_item_add(
                    postmortem=form.instance,
                    title=data["title"],
                    owner=data.get("owner"),
                    due_date=data.get("due_date"),
                    actor=request.user,
                    via=Via.ADMIN,
                )
                if data.get("done"):
                    action_item_set_done(item=item, done=True, actor=request.user, via=Via.ADMIN)
                formset.new_objects.append(item)
                continue
            item = item_form.instance
            if {"title", "owner", "due_date"} & set(item_form.changed_data):
                item = action_item_update(
                    item=item,
                    title=data["title"],
                    owner=data.get("owner"),
                    due_date=data.get("due_date"),
                    actor=request.user,
                    via=Via.ADMIN,
                )
            if "done" in item_form.changed_data:
                item = action_item_set_done(
                    item=item, done=data["done"], actor=request.user, via=Via.ADMIN
                )
            formset.changed_objects.append((item, item_form.changed_data))
        return None

    @admin.action(description="Publish the selected postmortems")
    def publish(self, request, queryset):
        for postmortem in queryset:
            try:
                postmortem_publish(postmortem=postmortem, actor=request.user, via=Via.ADMIN)
            except (PostmortemConflict, ValidationError) as exc:
                text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{postmortem}: {text}", messages.ERROR)
            else:
                self.message_user(request, f"{postmortem}: published.", messages.SUCCESS)


@admin.register(ShiftHandover)
class ShiftHandoverAdmin(ReadOnlyAdmin):
    """Hand-over notes are written on the floor's page; here they are read and acknowledged."""

    list_display = ["shift", "author", "created_at", "acknowledged_by", "acknowledged_at"]
    list_filter = ["created_at"]
    search_fields = ["shift", "done", "watch", "author__username"]
    list_select_related = ["author", "acknowledged_by"]
    date_hierarchy = "created_at"
    actions = ["acknowledge"]
    readonly_fields = [
        "shift",
        "author",
        "created_at",
        "open_incidents",
        "done",
        "watch",
        "acknowledged_by",
        "acknowledged_at",
    ]

    @admin.action(description="Acknowledge the selected notes (as the incoming shift)")
    def acknowledge(self, request, queryset):
        for handover in queryset:
            try:
                shift_handover_acknowledge(handover=handover, user=request.user, via=Via.ADMIN)
            except (HandoverOwnNote, HandoverAlreadyAcknowledged) as exc:
                self.message_user(request, f"{handover}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{handover}: acknowledged.", messages.SUCCESS)


from . import escalation_admin  # noqa: E402,F401
