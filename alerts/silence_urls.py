"""URLs for silences, maintenance windows and inhibit rules. ioc/urls.py mounts `urlpatterns`
at / and `api_urlpatterns` at /api/v1/."""

from django.urls import path

from . import silence_api as api
from . import silence_views as views

# Browser pages and htmx actions, mounted at /
urlpatterns: list = [
    path("silences/", views.silence_list_view, name="silences"),
    path("silences/new/", views.silence_create_view, name="silence-create"),
    path("silences/matcher-row/", views.silence_matcher_row_view, name="silence-matcher-row"),
    path("silences/<int:pk>/expire/", views.silence_expire_view, name="silence-expire"),
]

# REST API, mounted at /api/v1/
api_urlpatterns: list = [
    path("silences/", api.SilenceListCreateApi.as_view(), name="api-silences"),
    path("silences/<int:pk>/", api.SilenceDetailApi.as_view(), name="api-silence"),
    path(
        "maintenance-windows/",
        api.MaintenanceWindowListCreateApi.as_view(),
        name="api-maintenance-windows",
    ),
    path(
        "maintenance-windows/<int:pk>/",
        api.MaintenanceWindowDetailApi.as_view(),
        name="api-maintenance-window",
    ),
    path("inhibit-rules/", api.InhibitRuleListCreateApi.as_view(), name="api-inhibit-rules"),
    path("inhibit-rules/<int:pk>/", api.InhibitRuleDetailApi.as_view(), name="api-inhibit-rule"),
]
