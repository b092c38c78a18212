"""URLs for the service catalog. ioc/urls.py mounts `urlpatterns` at / and `api_urlpatterns`
at /api/v1/."""

from django.urls import path

from . import catalog_api as views

# Browser pages and htmx actions, mounted at /
urlpatterns: list = [
    path("services/", views.service_catalog_view, name="service-catalog"),
    path("services/<int:pk>/", views.service_detail_view, name="service-detail"),
    path("services/<int:pk>/owner/", views.service_owner_edit_view, name="service-owner-edit"),
    path(
        "services/<int:pk>/dependencies/",
        views.service_dependency_add_view,
        name="service-dependency-add",
    ),
    path(
        "services/<int:pk>/dependencies/<int:other_id>/remove/",
        views.service_dependency_remove_view,
        name="service-dependency-remove",
    ),
]

# REST API, mounted at /api/v1/
api_urlpatterns: list = [
    path("services/", views.ServiceListCreateApi.as_view(), name="api-services"),
    path("services/import/", views.ServiceImportApi.as_view(), name="api-services-import"),
    path("services/export/", views.ServiceExportApi.as_view(), name="api-services-export"),
    path("services/<int:pk>/", views.ServiceDetailApi.as_view(), name="api-service"),
]
