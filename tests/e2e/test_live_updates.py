"""Live updates over a real websocket, from a real ASGI server, through the Redis channel layer."""

import json
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from alerts.models import Alert
from incidents.models import Incident
from tests.base import Floor, api_client_for, post_alert, process
from tests.live import session_cookie_for

pytestmark = pytest.mark.e2e


def ws_connect(live, path: str, user=None):
    headers = {"Origin": live.url}
    if user is not None:
        headers["Cookie"] = f"sessionid={session_cookie_for(user)}"
    return connect(live.ws_url + path, additional_headers=headers, open_timeout=10)


def receive_until(socket, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        seen.append(message)
        if predicate(message):
            return message
    raise AssertionError(f"no matching message within {timeout}s; got {seen}")


def test_the_board_receives_a_new_incident_live(live_asgi, client):
    floor = Floor()
    with ws_connect(live_asgi, "/ws/board/", floor.alice) as socket:
        time.sleep(0.3)  # the consumer joins its groups right after the handshake
        post_alert(client, floor.token, {"summary": "BGP session down on edge-2"})
        process()
        message = receive_until(socket, lambda m: "BGP session down" in m.get("html", ""))
    incident = Incident.objects.get()
    assert message["kind"] == "board"
    assert message["id"] == incident.pk
    assert message["open"] is True
    assert f'id="incident-{incident.pk}"' in message["html"]


def test_the_board_is_told_when_an_incident_leaves_it(live_asgi, client):
    floor = Floor()
    post_alert(client, floor.token, {"summary": "Fan failure"})
    process()
    incident = Incident.objects.get()
    with ws_connect(live_asgi, "/ws/board/", floor.alice) as socket:
        time.sleep(0.3)
        api_client_for(floor.alice).post(f"/api/v1/incidents/{incident.pk}/resolve/")
        message = receive_until(socket, lambda m: m.get("id") == incident.pk and not m["open"])
    assert 'class="status resolved"' in message["html"]


def test_the_incident_page_receives_the_acknowledgement(live_asgi, client):
    floor = Floor()
    post_alert(client, floor.token, {"summary": "Packet loss"})
    process()
    incident = Incident.objects.get()
    with ws_connect(live_asgi, f"/ws/incidents/{incident.pk}/", floor.dave) as socket:
        time.sleep(0.3)
        api_client_for(floor.alice).post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
        message = receive_until(socket, lambda m: "Acknowledged by alice" in m.get("html", ""))
    assert message["kind"] == "incident"


def test_a_storm_on_one_incident_is_coalesced(live_asgi, client, settings):
    floor = Floor()
    post_alert(client, floor.token, {"summary": "Link flapping", "name": "Flap"})
    process()
    incident = Incident.objects.get()
    with ws_connect(live_asgi, "/ws/board/", floor.alice) as socket:
        time.sleep(0.3)
        for n in range(40):
            post_alert(
                client,
                floor.token,
                {"summary": "Link flapping", "name": "Flap", "source": f"sw-{n}"},
            )
            process()
        assert Alert.objects.count() == 41
        messages = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                messages.append(json.loads(socket.recv(timeout=0.5)))
            except TimeoutError:
                continue
    about_it = [m for m in messages if m.get("id") == incident.pk]
    # 40 changes in well under a second of processing: a handful of pushes, the last one current.
    assert 1 <= len(about_it) <= 8, len(about_it)
    assert "data-alert-count>41<" in about_it[-1]["html"]


def test_an_anonymous_websocket_is_refused(live_asgi):
    with pytest.raises(InvalidStatus), ws_connect(live_asgi, "/ws/board/"):
        pass


def test_a_websocket_from_another_origin_is_refused(live_asgi):
    floor = Floor()
    headers = {
        "Origin": "http://evil.example",
        "Cookie": f"sessionid={session_cookie_for(floor.alice)}",
    }
    with (
        pytest.raises(InvalidStatus),
        connect(live_asgi.ws_url + "/ws/board/", additional_headers=headers),
    ):
        pass


def test_an_outsider_cannot_follow_an_ioc_incident(live_asgi, client):
    floor = Floor()
    post_alert(client, floor.token, {"summary": "Core switch down"})
    process()
    incident = Incident.objects.get()
    with (
        pytest.raises(InvalidStatus),
        ws_connect(live_asgi, f"/ws/incidents/{incident.pk}/", floor.paul),
    ):
        pass
