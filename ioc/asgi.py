"""ASGI entry point: HTTP through Django, websockets through Channels.

On PostgreSQL the two `/integrations/` webhook paths are answered by alerts.fastpath ahead of
Django (IOC_WEBHOOK_FAST_PATH); the body limit applies to them first, while the body is read.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ioc.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from alerts import fastpath  # noqa: E402
from incidents.routing import websocket_urlpatterns  # noqa: E402
from ioc.bodylimit import WebhookBodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WebhookBodyLimit(fastpath.WebhookFastPath(django_asgi_app)),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # Closes the fast path's connection pool when a worker stops.
        "lifespan": fastpath.lifespan,
    }
)
