"""URLs for the records around incidents: checklists, postmortems, shift hand-over."""

urlpatterns: list = []  # browser pages, mounted at /
api_urlpatterns: list = []  # REST API, mounted at /api/v1/
