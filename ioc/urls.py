from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from alerts import api as alerts_api
from alerts import catalog_urls, routing_urls, silence_urls
from alerts import views as alerts_views
from incidents import api as incidents_api
from incidents import escalation_urls, record_urls
from incidents import views as incidents_views
from teams import api as teams_api
from teams import urls as teams_urls

from . import views

api_v1 = [
    path("teams/", teams_api.TeamListCreateApi.as_view(), name="api-teams"),
    path("integrations/", alerts_api.IntegrationListCreateApi.as_view(), name="api-integrations"),
    path(
        "integrations/<int:pk>/rotate_token/",
        alerts_api.IntegrationRotateTokenApi.as_view(),
        name="api-integration-rotate-token",
    ),
    path("alerts/", alerts_api.AlertListApi.as_view(), name="api-alerts"),
    path("alerts/<int:pk>/split/", alerts_api.AlertSplitApi.as_view(), name="api-alert-split"),
    path("incidents/", incidents_api.IncidentListApi.as_view(), name="api-incidents"),
    path("incidents/<int:pk>/", incidents_api.IncidentDetailApi.as_view(), name="api-incident"),
    path(
        "incidents/<int:pk>/acknowledge/",
        incidents_api.IncidentAcknowledgeApi.as_view(),
        name="api-incident-acknowledge",
    ),
    path(
        "incidents/<int:pk>/resolve/",
        incidents_api.IncidentResolveApi.as_view(),
        name="api-incident-resolve",
    ),
    *[
        path(f"incidents/<int:pk>/{name}/", view.as_view(), name=f"api-incident-{name}")
        for name, view in [
            ("status", incidents_api.IncidentStatusApi),
            ("reopen", incidents_api.IncidentReopenApi),
            ("close", incidents_api.IncidentCloseApi),
            ("severity", incidents_api.IncidentSeverityApi),
            ("roles", incidents_api.IncidentRoleApi),
            ("responders", incidents_api.IncidentRespondersApi),
            ("hand_off", incidents_api.IncidentHandOffApi),
            ("notes", incidents_api.IncidentNoteApi),
            ("status_updates", incidents_api.IncidentStatusUpdateApi),
            ("merge", incidents_api.IncidentMergeApi),
        ]
    ],
    path(
        "hand_offs/<int:pk>/accept/",
        incidents_api.HandOffAcceptApi.as_view(),
        name="api-hand-off-accept",
    ),
    path("metrics/", incidents_api.MetricsApi.as_view(), name="api-metrics"),
    *record_urls.api_urlpatterns,
    *teams_urls.api_urlpatterns,
    *escalation_urls.api_urlpatterns,
    *catalog_urls.api_urlpatterns,
    *silence_urls.api_urlpatterns,
    *routing_urls.api_urlpatterns,
]

urlpatterns = [
    path("", incidents_views.board, name="board"),
    path("incidents/<int:pk>/", incidents_views.incident_detail, name="incident-detail"),
    path(
        "incidents/<int:pk>/acknowledge/",
        incidents_views.incident_acknowledge_view,
        name="incident-acknowledge",
    ),
    path(
        "incidents/<int:pk>/resolve/",
        incidents_views.incident_resolve_view,
        name="incident-resolve",
    ),
    path("incidents/declare/", incidents_views.incident_declare_view, name="incident-declare"),
    path("alerts/<int:pk>/split/", alerts_views.alert_split_view, name="alert-split"),
    path(
        "incidents/<int:pk>/act/<str:action>/",
        incidents_views.incident_action_view,
        name="incident-action",
    ),
    path("integrations/<str:token>/", alerts_views.integration_webhook, name="integration-webhook"),
    path(
        "integrations/",
        alerts_views.integration_webhook_authorized,
        name="integration-webhook-authorized",
    ),
    path("v2/enqueue", alerts_views.pagerduty_enqueue, name="pagerduty-enqueue"),
    path("v2/alerts", alerts_views.opsgenie_create, name="opsgenie-create"),
    # Aliases may hold slashes (sent as %2F, which arrives decoded): match the action at the end.
    path(
        "v2/alerts/<path:identifier>/close",
        alerts_views.opsgenie_action,
        {"action": "close"},
        name="opsgenie-close",
    ),
    path(
        "v2/alerts/<path:identifier>/acknowledge",
        alerts_views.opsgenie_action,
        {"action": "acknowledge"},
        name="opsgenie-acknowledge",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/", views.healthz),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    *record_urls.urlpatterns,
    *teams_urls.urlpatterns,
    *catalog_urls.urlpatterns,
    *silence_urls.urlpatterns,
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

# Benchmark-only routes (benchmarks/run.py): never on unless IOC_BENCHMARK_VIEWS=1.
from .env import env_bool  # noqa: E402

if env_bool("IOC_BENCHMARK_VIEWS", False):
    from .bench_views import urlpatterns as bench_urlpatterns

    urlpatterns += bench_urlpatterns
