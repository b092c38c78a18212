"""The admin pages that only show rows (incidents/admin_base.ReadOnlyAdmin): nothing is added,
changed or deleted there, and the hand-over notes keep their acknowledge action."""

import pytest
from django.contrib import admin
from django.test import RequestFactory

from incidents.admin_base import ReadOnlyAdmin
from incidents.escalation_models import Escalation, Notification
from incidents.models import IncidentEvent, ShiftHandover

READ_ONLY = [IncidentEvent, ShiftHandover, Escalation, Notification]


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda model: model.__name__)
def test_it_refuses_add_change_and_delete(floor, model):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = floor.admin  # a superuser: only the admin class can say no

    assert isinstance(model_admin, ReadOnlyAdmin)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_hand_over_notes_keep_only_their_acknowledge_action(floor):
    request = RequestFactory().get("/admin/incidents/shifthandover/")
    request.user = floor.admin
    actions = admin.site._registry[ShiftHandover].get_actions(request)
    assert list(actions) == ["acknowledge"]  # no "delete selected"
