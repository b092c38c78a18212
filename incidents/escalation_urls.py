"""URLs for escalation policies and an incident's escalation. ioc/urls.py mounts
`api_urlpatterns` at /api/v1/."""

from django.urls import path

from . import escalation_api as api

# REST API, mounted at /api/v1/
api_urlpatterns: list = [
    path(
        "escalation-policies/",
        api.EscalationPolicyListCreateApi.as_view(),
        name="api-escalation-policies",
    ),
    path(
        "escalation-policies/<int:pk>/",
        api.EscalationPolicyDetailApi.as_view(),
        name="api-escalation-policy",
    ),
    path(
        "incidents/<int:pk>/notifications/",
        api.IncidentNotificationListApi.as_view(),
        name="api-incident-notifications",
    ),
    path(
        "incidents/<int:pk>/escalation/",
        api.IncidentEscalationApi.as_view(),
        name="api-incident-escalation",
    ),
]
