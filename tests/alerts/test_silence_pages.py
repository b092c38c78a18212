"""The silences page (/silences/): who sees what, and creating and expiring a silence via htmx."""

from datetime import time, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from alerts.models import Silence
from alerts.suppression import inhibit_rule_create, maintenance_window_create, silence_create

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def create_form(**overrides) -> dict:
    return {
        "field": ["source", "labels.env", ""],
        "op": ["=", "=~", "="],
        "value": ["db01", "prod|staging", ""],
        "duration": "120",
        "comment": "db01 disk swap",
        **overrides,
    }


def a_silence(floor) -> Silence:
    return silence_create(
        matchers=[{"field": "source", "op": "=", "value": "db01"}],
        ends_at=timezone.now() + timedelta(hours=1),
        comment="db01 disk swap",
        actor=floor.alice,
        via="system",
    )


def test_it_asks_anonymous_visitors_to_log_in(floor):
    response = Client().get("/silences/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_shows_silences_windows_and_rules(floor):
    a_silence(floor)
    maintenance_window_create(
        name="Sunday patching",
        matchers=[{"field": "labels.env", "op": "=", "value": "prod"}],
        reason="OS patches",
        time_zone="Europe/Berlin",
        weekdays=[6],
        start_time=time(2, 0),
        duration_minutes=240,
        actor=floor.manager,
        via="system",
    )
    inhibit_rule_create(
        name="node down mutes its services",
        source_matchers=[{"field": "name", "op": "=", "value": "NodeDown"}],
        target_matchers=[{"field": "name", "op": "!=", "value": "NodeDown"}],
        equal=["cluster"],
        actor=floor.manager,
        via="system",
    )
    response = floor.client_for(floor.alice).get("/silences/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "db01 disk swap" in page and "source = db01" in page
    assert "Sunday patching" in page and "Sun 02:00 for 240 min (Europe/Berlin)" in page
    assert "node down mutes its services" in page
    assert 'hx-post="/silences/new/"' in page and ">Expire</button>" in page
    assert 'href="/silences/"' in page  # the nav link


def test_it_shows_observers_no_form_and_no_expire_button(floor):
    a_silence(floor)
    page = floor.client_for(floor.olga).get("/silences/").content.decode()
    assert "db01 disk swap" in page
    assert 'hx-post="/silences/new/"' not in page and ">Expire</button>" not in page


def test_it_creates_a_silence_via_htmx(floor):
    response = floor.client_for(floor.alice).post("/silences/new/", create_form(), **HTMX)
    assert response.status_code == 200
    assert 'id="silences-body"' in response.content.decode()
    assert "Silence created." in response.content.decode()
    silence = Silence.objects.get()
    assert silence.matchers == [
        {"field": "source", "op": "=", "value": "db01"},
        {"field": "labels.env", "op": "=~", "value": "prod|staging"},
    ]
    assert silence.ends_at - silence.starts_at == timedelta(minutes=120)
    assert silence.created_by == floor.alice
    entry = LogEntry.objects.get(object_id=str(silence.pk))
    assert entry.user == floor.alice and entry.change_message.startswith("Created via web")


def test_it_drops_the_value_of_ops_that_take_none(floor):
    form = create_form(field=["source", "name"], op=["exists", "="], value=["typed", "Disk"])
    response = floor.client_for(floor.alice).post("/silences/new/", form, **HTMX)
    assert response.status_code == 200
    assert Silence.objects.get().matchers == [
        {"field": "source", "op": "exists"},
        {"field": "name", "op": "=", "value": "Disk"},
    ]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"comment": ""}, "comment is required"),
        ({"field": ["", ""], "value": ["", ""]}, "at least one matcher"),
        ({"op": ["==", "=", "="]}, "unknown op"),
        ({"duration": "5"}, "Choose a duration"),
    ],
)
def test_it_answers_bad_input_with_the_reason_and_keeps_the_rows(floor, overrides, words):
    response = floor.client_for(floor.alice).post(
        "/silences/new/", create_form(**overrides), **HTMX
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert words in page and 'id="silences-body"' in page
    assert not Silence.objects.exists()
    if "field" not in overrides:
        assert 'value="prod|staging"' in page  # what was typed comes back


def test_it_refuses_observers_with_the_reason(floor):
    response = floor.client_for(floor.olga).post("/silences/new/", create_form(), **HTMX)
    assert response.status_code == 403
    assert "Only managers and the IOC" in response.content.decode()
    assert not Silence.objects.exists()


def test_it_expires_a_silence_via_htmx(floor):
    silence = a_silence(floor)
    response = floor.client_for(floor.dave).post(f"/silences/{silence.pk}/expire/", **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Silence expired" in page and f'id="silence-{silence.pk}"' not in page
    silence.refresh_from_db()
    assert silence.ends_at <= timezone.now()
    assert LogEntry.objects.filter(object_id=str(silence.pk), user=floor.dave).exists()


def test_it_refuses_expiry_to_outsiders(floor):
    silence = a_silence(floor)
    response = floor.client_for(floor.paul).post(f"/silences/{silence.pk}/expire/", **HTMX)
    assert response.status_code == 403
    silence.refresh_from_db()
    assert silence.ends_at > timezone.now()


def test_it_answers_404_for_an_unknown_silence(floor):
    response = floor.client_for(floor.alice).post("/silences/999999/expire/", **HTMX)
    assert response.status_code == 404


def test_it_refuses_the_wrong_method(floor):
    silence = a_silence(floor)
    client = floor.client_for(floor.alice)
    assert client.get(f"/silences/{silence.pk}/expire/").status_code == 405
    assert client.get("/silences/new/").status_code == 405
    assert client.post("/silences/").status_code == 405


def test_it_adds_a_matcher_row(floor):
    response = floor.client_for(floor.alice).get("/silences/matcher-row/", **HTMX)
    assert response.status_code == 200
    assert 'name="field"' in response.content.decode()
