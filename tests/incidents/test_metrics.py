"""GET /api/v1/metrics/ against hand-computed scenarios: inside the IOC, handed outside, handed
back, reopened, resolved outside the period. The clock is set by the test so every figure can be
worked out by hand."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from alerts.models import Alert
from incidents import ownership, services
from incidents.models import Incident
from tests.base import api_client_for, post_alert, process

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@contextmanager
def clock(at: datetime):
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def open_with_alerts(client, floor, *, at: datetime, name: str, alerts: int) -> Incident:
    with clock(at):
        for n in range(alerts):
            post_alert(client, floor.token, {"summary": name, "name": name, "source": f"h{n}"})
        process()
    return Incident.objects.get(title=name)


def resolve(floor, incident, *, at: datetime, team_slug: str):
    from teams.models import Team

    with clock(at):
        services.incident_resolve(
            incident_id=incident.pk,
            actor=floor.alice,
            via="api",
            resolving_team=Team.objects.get(slug=team_slug),
            code="fixed",
        )


def metrics(floor, since: datetime, until: datetime) -> dict:
    response = api_client_for(floor.manager).get(
        "/api/v1/metrics/", {"since": since.isoformat(), "until": until.isoformat()}
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def scenario(client, floor):
    # A: inside. Opened T0, acknowledged +60 s, resolved by first line +600 s. 2 alerts.
    a = open_with_alerts(client, floor, at=T0, name="A", alerts=2)
    with clock(T0 + timedelta(seconds=60)):
        services.incident_acknowledge(incident_id=a.pk, actor=floor.alice, via="api")
    resolve(floor, a, at=T0 + timedelta(seconds=600), team_slug="first-line")

    # B: handed outside and resolved there. Opened T0, acknowledged +120 s, resolved +1200 s.
    b = open_with_alerts(client, floor, at=T0, name="B", alerts=1)
    with clock(T0 + timedelta(seconds=120)):
        services.incident_acknowledge(incident_id=b.pk, actor=floor.alice, via="api")
        ownership.incident_hand_off(
            incident_id=b.pk, to_team=floor.vendor, reason="app bug", actor=floor.alice, via="api"
        )
    resolve(floor, b, at=T0 + timedelta(seconds=1200), team_slug="payments-app")

    # C: handed outside and back, resolved by the DBA team: still not inside. Never acknowledged.
    # Opened T0, resolved +1800 s. 3 alerts.
    c = open_with_alerts(client, floor, at=T0, name="C", alerts=3)
    with clock(T0 + timedelta(seconds=300)):
        ownership.incident_hand_off(
            incident_id=c.pk, to_team=floor.vendor, reason="x", actor=floor.alice, via="api"
        )
        ownership.incident_hand_off(
            incident_id=c.pk, to_team=floor.dba, reason="not ours", actor=floor.manager, via="api"
        )
    resolve(floor, c, at=T0 + timedelta(seconds=1800), team_slug="dba")

    # D: inside, resolved, reopened, resolved again: counted once, by its last resolve.
    # Opened T0, acknowledged +30 s, resolved +300 s, reopened +400 s, resolved +900 s. 1 alert.
    d = open_with_alerts(client, floor, at=T0, name="D", alerts=1)
    with clock(T0 + timedelta(seconds=30)):
        services.incident_acknowledge(incident_id=d.pk, actor=floor.alice, via="api")
    resolve(floor, d, at=T0 + timedelta(seconds=300), team_slug="first-line")
    with clock(T0 + timedelta(seconds=400)):
        services.incident_reopen(incident_id=d.pk, actor=floor.alice, via="api")
    resolve(floor, d, at=T0 + timedelta(seconds=900), team_slug="first-line")

    # E: resolved the next day: outside the period [T0, T0 + 1 day).
    e = open_with_alerts(client, floor, at=T0, name="E", alerts=1)
    resolve(floor, e, at=T0 + timedelta(days=1, seconds=5), team_slug="first-line")

    # F: still open: not counted.
    open_with_alerts(client, floor, at=T0, name="F", alerts=1)
    return floor


def test_it_computes_the_kpis_by_hand(scenario):
    got = metrics(scenario, T0, T0 + timedelta(days=1))
    # Counted: A, B, C, D. Inside: A, D.
    assert got["incidents_resolved"] == 4
    assert got["incidents_resolved_inside_ioc"] == 2
    assert got["incidents_inside_ioc_share"] == pytest.approx(0.5)
    # Alerts: A 2, B 1, C 3, D 1 = 7; inside A 2 + D 1 = 3.
    assert got["alerts_resolved"] == 7
    assert got["alerts_resolved_inside_ioc"] == 3
    assert got["alerts_inside_ioc_share"] == pytest.approx(3 / 7)
    # MTTA over the acknowledged ones: A 60, B 120, D 30 -> 70.
    assert got["mtta_seconds"] == pytest.approx(70.0)
    # MTTR: A 600, B 1200, C 1800, D 900 (last resolve) -> 1125.
    assert got["mttr_seconds"] == pytest.approx(1125.0)


def test_the_period_is_half_open(scenario):
    # A resolves at exactly T0 + 600 s: in [T0+600, ...), not in [..., T0+600).
    before = metrics(scenario, T0, T0 + timedelta(seconds=600))
    assert before["incidents_resolved"] == 0
    at = metrics(scenario, T0 + timedelta(seconds=600), T0 + timedelta(seconds=601))
    assert at["incidents_resolved"] == 1
    assert at["mttr_seconds"] == pytest.approx(600.0)


def test_nothing_to_divide_gives_null(scenario):
    got = metrics(scenario, T0 - timedelta(days=10), T0 - timedelta(days=9))
    assert got["incidents_resolved"] == 0
    for key in (
        "incidents_inside_ioc_share",
        "alerts_inside_ioc_share",
        "mtta_seconds",
        "mttr_seconds",
    ):
        assert got[key] is None


def test_the_figures_come_from_the_timeline_not_from_counters(scenario):
    # Editing a derived counter or a field must not change the numbers.
    Incident.objects.update(alert_count=999, resolving_team=scenario.vendor)
    Alert.objects.all().delete()
    got = metrics(scenario, T0, T0 + timedelta(days=1))
    assert got["alerts_resolved"] == 7
    assert got["incidents_resolved_inside_ioc"] == 2


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-11-01T00:00:00", "until": "2026-11-02T00:00:00+00:00"},
        {"since": "2026-11-01T00:00:00+00:00", "until": "2026-11-02T00:00:00"},
        {"since": "yesterday", "until": "2026-11-02T00:00:00+00:00"},
        {"until": "2026-11-02T00:00:00+00:00"},
        {"since": "2026-11-02T00:00:00+00:00", "until": "2026-11-01T00:00:00+00:00"},
    ],
)
def test_a_time_without_offset_or_a_bad_period_is_a_400(floor, query):
    response = api_client_for(floor.manager).get("/api/v1/metrics/", query)
    assert response.status_code == 400
    assert "error" in response.json()


def test_metrics_need_a_token(db):
    from django.test import Client

    assert Client().get("/api/v1/metrics/").status_code == 401


def test_the_board_shows_the_share_and_the_target(scenario, settings):
    settings.IOC_INSIDE_SHARE_TARGET = 0.87
    with clock(T0 + timedelta(hours=2)):
        page = scenario.client_for(scenario.alice).get("/")
    content = page.content.decode()
    assert "Resolved inside the IOC today" in content
    assert "43%" in content  # 3 of 7 alerts
    assert "87%" in content
