"""URLs for the records around incidents: checklists, postmortems, shift hand-over."""

from django.urls import path

from . import record_api as api
from . import record_views as views

# Browser pages and htmx actions, mounted at /
urlpatterns: list = [
    path("incidents/<int:pk>/checklist/", views.checklist_view, name="checklist"),
    path(
        "incidents/<int:pk>/checklist/add/",
        views.checklist_item_add_view,
        name="checklist-item-add",
    ),
    path(
        "incidents/<int:pk>/checklist/<int:item_id>/done/",
        views.checklist_item_done_view,
        name="checklist-item-done",
    ),
    path(
        "incidents/<int:pk>/checklist/<int:item_id>/assign/",
        views.checklist_item_assign_view,
        name="checklist-item-assign",
    ),
    path("incidents/<int:pk>/postmortem/", views.postmortem_view, name="postmortem"),
    path(
        "incidents/<int:pk>/postmortem/start/",
        views.postmortem_start_view,
        name="postmortem-start",
    ),
    path("incidents/<int:pk>/postmortem/save/", views.postmortem_save_view, name="postmortem-save"),
    path(
        "incidents/<int:pk>/postmortem/publish/",
        views.postmortem_publish_view,
        name="postmortem-publish",
    ),
    path(
        "incidents/<int:pk>/postmortem/action_items/",
        views.action_item_add_view,
        name="action-item-add",
    ),
    path(
        "incidents/<int:pk>/postmortem/action_items/<int:item_id>/done/",
        views.action_item_done_view,
        name="action-item-done",
    ),
    path(
        "incidents/<int:pk>/postmortem.md",
        views.postmortem_markdown_view,
        name="postmortem-markdown",
    ),
    path("handover/", views.handover_view, name="handover"),
    path(
        "handover/<int:pk>/acknowledge/",
        views.handover_acknowledge_view,
        name="handover-acknowledge",
    ),
]

# REST API, mounted at /api/v1/
api_urlpatterns: list = [
    path("incidents/<int:pk>/checklist/", api.ChecklistApi.as_view(), name="api-checklist"),
    path(
        "incidents/<int:pk>/checklist/<int:item_id>/",
        api.ChecklistItemApi.as_view(),
        name="api-checklist-item",
    ),
    path("incidents/<int:pk>/postmortem/", api.PostmortemApi.as_view(), name="api-postmortem"),
    path(
        "incidents/<int:pk>/postmortem/publish/",
        api.PostmortemPublishApi.as_view(),
        name="api-postmortem-publish",
    ),
    path(
        "incidents/<int:pk>/postmortem/action_items/",
        api.ActionItemListApi.as_view(),
        name="api-action-items",
    ),
    path(
        "incidents/<int:pk>/postmortem/action_items/<int:item_id>/",
        api.ActionItemApi.as_view(),
        name="api-action-item",
    ),
    path(
        "incidents/<int:pk>/postmortem.md",
        api.PostmortemMarkdownApi.as_view(),
        name="api-postmortem-markdown",
    ),
    path("handovers/", api.ShiftHandoverListApi.as_view(), name="api-handovers"),
    path("handovers/<int:pk>/", api.ShiftHandoverDetailApi.as_view(), name="api-handover"),
    path(
        "handovers/<int:pk>/acknowledge/",
        api.ShiftHandoverAcknowledgeApi.as_view(),
        name="api-handover-acknowledge",
    ),
]
