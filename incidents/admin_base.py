"""What the incident admin modules share. Its own module: admin.py imports escalation_admin.py
at its end (to register it), so escalation_admin.py cannot import from admin.py."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the admin only shows: written by the code (the escalation engine, the timeline) or on
    the floor's pages, never added, changed or deleted here. Actions still run."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
