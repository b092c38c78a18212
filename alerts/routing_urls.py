"""URLs for routing rules and the routing tester. ioc/urls.py mounts `api_urlpatterns` at
/api/v1/."""

from django.urls import path

from . import routing_api as api

# REST API, mounted at /api/v1/
api_urlpatterns: list = [
    path("routes/", api.RouteListCreateApi.as_view(), name="api-routes"),
    # Before routes/<id>/ reads naturally; the int converter would refuse "test" anyway.
    path("routes/test/", api.RouteTestApi.as_view(), name="api-routes-test"),
    path("routes/<int:pk>/", api.RouteDetailApi.as_view(), name="api-route"),
]
