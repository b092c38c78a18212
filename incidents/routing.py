from django.urls import path

from .consumers import BoardConsumer, IncidentConsumer

websocket_urlpatterns = [
    path("ws/board/", BoardConsumer.as_asgi()),
    path("ws/incidents/<int:pk>/", IncidentConsumer.as_asgi()),
]
