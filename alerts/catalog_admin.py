"""The service catalog in the admin: services with their dependencies inline, and the
dependencies on their own.

Writes go through alerts/catalog.py like the API's and the browser's, so the history of a
service reads the same whoever changed it and from where ("… (via admin)"). The admin's own
history entries are switched off here, or every change would be recorded twice.
"""

from django import forms
from django.contrib import admin
from django.db.models import Count

from teams.models import Team

from .catalog import (
    TIER_MAX,
    TIER_MIN,
    dependency_add,
    dependency_remove,
    service_create,
    service_delete,
    service_update,
)
from .models import Service, ServiceDependency


class OwnerFilter(admin.SimpleListFilter):
    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        return [("none", "No owner"), *Team.objects.order_by("name").values_list("slug", "name")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(owner_team__isnull=True)
        if self.value():
            return queryset.filter(owner_team__slug=self.value())
        return queryset


class ServiceForm(forms.ModelForm):
    class Meta:
        model = Service
        fields = ["name", "kind", "owner_team", "tier", "description"]

    def clean_tier(self):
        tier = self.cleaned_data["tier"]
        if tier is not None and not TIER_MIN <= tier <= TIER_MAX:
            raise forms.ValidationError(f"From {TIER_MIN} (most critical) to {TIER_MAX}.")
        return tier


class DependencyFormSet(forms.BaseInlineFormSet):
    @classmethod
    def get_default_prefix(cls):
        # The dependency's related_name is "+", which would leave the formset a prefix of "-1".
        return "depends_on"


class DependencyInline(admin.TabularInline):
    model = ServiceDependency
    formset = DependencyFormSet
    fk_name = "service"
    extra = 0
    autocomplete_fields = ["depends_on"]
    verbose_name = "depends on"
    verbose_name_plural = "depends on"


class _AuditedByServices:
    """The catalog's services write the history entries (see the module's docstring)."""

    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletions(self, request, queryset):
        return None


@admin.register(Service)
class ServiceAdmin(_AuditedByServices, admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "owner_team",
        "tier",
        "discovered",
        "last_alert_at",
        "depends_on_count",
    ]
    list_filter = [OwnerFilter, "kind", "tier", "discovered"]
    search_fields = ["name", "description"]
    list_select_related = ["owner_team"]
    form = ServiceForm
    inlines = [DependencyInline]
    readonly_fields = ["discovered", "first_seen", "last_alert_at", "updated_at"]
    fields = [
        "name",
        "kind",
        "owner_team",
        "tier",
        "description",
        "discovered",
        "first_seen",
        "last_alert_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_depends_on=Count("depends_on"))

    @admin.display(description="depends on", ordering="n_depends_on")
    def depends_on_count(self, obj) -> int:
        return obj.n_depends_on

    def get_readonly_fields(self, request, obj=None):
        # Alerts find their service by name: a renamed one would be discovered again.
        return [*self.readonly_fields, "name"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {
            "owner_team": obj.owner_team,
            "tier": obj.tier,
            "kind": obj.kind,
            "description": obj.description,
        }
        if change:
            service_update(service=obj, **fields, actor=request.user, via="admin")
            return
        created = service_create(name=obj.name, **fields, actor=request.user, via="admin")
        # The admin goes on with `obj` (its inlines, the redirect): make it the saved row.
        obj.pk, obj.updated_at = created.pk, created.updated_at
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not ServiceDependency:
            return super().save_formset(request, form, formset, change)
        rows = formset.save(commit=False)
        for row in formset.deleted_objects:
            dependency_remove(
                service=row.service, depends_on=row.depends_on, actor=request.user, via="admin"
            )
        for row, _changed in formset.changed_objects:
            # Pointing a row at another service: the old dependency goes, the new one comes.
            old = ServiceDependency.objects.get(pk=row.pk)
            dependency_remove(
                service=old.service, depends_on=old.depends_on, actor=request.user, via="admin"
            )
        for row in rows:
            dependency_add(
                service=form.instance, depends_on=row.depends_on, actor=request.user, via="admin"
            )
        return None

    def delete_model(self, request, obj):
        service_delete(service=obj, actor=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for service in queryset:
            service_delete(service=service, actor=request.user, via="admin")


@admin.register(ServiceDependency)
class ServiceDependencyAdmin(_AuditedByServices, admin.ModelAdmin):
    list_display = ["service", "depends_on"]
    list_select_related = ["service", "depends_on"]
    search_fields = ["service__name", "depends_on__name"]
    autocomplete_fields = ["service", "depends_on"]

    def has_change_permission(self, request, obj=None):
        # A dependency is a pair: change one by removing it and adding the other.
        return False

    def save_model(self, request, obj, form, change):
        saved = dependency_add(
            service=obj.service, depends_on=obj.depends_on, actor=request.user, via="admin"
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        dependency_remove(
            service=obj.service, depends_on=obj.depends_on, actor=request.user, via="admin"
        )

    def delete_queryset(self, request, queryset):
        for row in queryset.select_related("service", "depends_on"):
            dependency_remove(
                service=row.service, depends_on=row.depends_on, actor=request.user, via="admin"
            )
