"""In-app: a `notify.user` event to the user's group on the channel layer (Redis in tests)."""

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from incidents.notify import Message, deliver
from incidents.notify.inapp import group_for_user
from tests.incidents.test_notify_sinks import no_internet_fixture  # noqa: F401


@pytest.fixture
def user_channel():
    """A test channel in the group of a user id no other run uses."""
    layer = get_channel_layer()
    user_id = uuid.uuid4().int % 10**12
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_for_user(user_id), channel)
    yield user_id, channel
    async_to_sync(layer.group_discard)(group_for_user(user_id), channel)


def receive(channel: str) -> dict:
    async def within_a_second():
        import asyncio

        return await asyncio.wait_for(get_channel_layer().receive(channel), 5)

    return async_to_sync(within_a_second)()


def test_it_sends_the_text_and_incident_to_the_users_group(user_channel):
    user_id, channel = user_channel

    result = deliver(
        Message(
            key="ntf-5-1",
            channel="in_app",
            address=str(user_id),
            subject="[IOC] SEV2 #42: Database down",
            text="SEV2 incident #42 for DBA: Database down",
            incident_number=42,
            incident_url="https://ioc.example.org/incidents/7/",
            severity="SEV2",
            title="Database down",
            status="triggered",
            incident_id=7,
        )
    )

    assert result.ok
    assert receive(channel) == {
        "type": "notify.user",
        "key": "ntf-5-1",
        "subject": "[IOC] SEV2 #42: Database down",
        "text": "SEV2 incident #42 for DBA: Database down",
        "incident_id": 7,
        "incident_number": 42,
        "incident_url": "https://ioc.example.org/incidents/7/",
        "severity": "SEV2",
        "title": "Database down",
        "status": "triggered",
    }


def test_it_uses_the_user_group_name():
    assert group_for_user(7) == "user.7"


def test_it_is_delivered_when_nobody_is_connected():
    result = deliver(Message(key="ntf-5-2", channel="in_app", address="987654321987"))

    assert result.ok


@pytest.mark.parametrize("address", ["alice", "", "7; drop", "٣"])
def test_it_refuses_an_address_that_is_not_a_user_id(address):
    result = deliver(Message(key="ntf-5-3", channel="in_app", address=address))

    assert (result.ok, result.permanent) == (False, True)


def test_it_retries_when_the_channel_layer_fails(monkeypatch):
    class Down:
        async def group_send(self, group, message):
            raise ConnectionError("Redis is away")

    monkeypatch.setattr("incidents.broadcast.get_channel_layer", lambda: Down())

    result = deliver(Message(key="ntf-5-4", channel="in_app", address="7"))

    assert (result.ok, result.permanent) == (False, False)
    assert result.error == "the channel layer refused the message: Redis is away"
