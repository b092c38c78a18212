"""The update services of maintenance windows and inhibit rules share one path
(alerts/suppression._update): the same checks, the lock, only what differs written and audited;
only a window's change clears the silencer cache. And first_silencer asks a silencer's matchers
before its (costly) occurrence."""

from datetime import UTC, datetime, time

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError

from alerts import suppression
from alerts.matchers import compile_matchers
from alerts.models import InhibitRule, MaintenanceWindow
from alerts.suppression import (
    Silencer,
    active_silencers,
    first_silencer,
    inhibit_rule_create,
    inhibit_rule_update,
    maintenance_window_create,
    maintenance_window_update,
    silencers_cache_clear,
)
from alerts.windows import WindowSpec

DB01 = [{"field": "source", "op": "=", "value": "db01"}]
NODE_DOWN = [{"field": "name", "op": "=", "value": "NodeDown"}]
NOT_NODE_DOWN = [{"field": "name", "op": "!=", "value": "NodeDown"}]


@pytest.fixture(autouse=True)
def _fresh_cache():
    silencers_cache_clear()
    yield
    silencers_cache_clear()


def _window(floor) -> MaintenanceWindow:
    return maintenance_window_create(
        name="Sunday patching",
        matchers=DB01,
        reason="OS patches",
        time_zone="Europe/Berlin",
        weekdays=[6],
        start_time=time(2, 0),
        duration_minutes=240,
        actor=floor.manager,
        via="api",
    )


def _rule(floor) -> InhibitRule:
    return inhibit_rule_create(
        name="node down mutes its services",
        source_matchers=NODE_DOWN,
        target_matchers=NOT_NODE_DOWN,
        equal=["cluster"],
        actor=floor.manager,
        via="api",
    )


def _changes(obj) -> list[str]:
    return list(
        LogEntry.objects.filter(object_id=str(obj.pk), action_flag=CHANGE)
        .order_by("id")
        .values_list("change_message", flat=True)
    )


CASES = [
    pytest.param(
        _window, maintenance_window_update, "window", {"duration_minutes": 60}, id="window"
    ),
    pytest.param(_rule, inhibit_rule_update, "rule", {"equal": ["zone"]}, id="rule"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("make", "update", "arg", "change"), CASES)
class TestUpdate:
    def test_it_writes_and_audits_only_what_differs(self, floor, make, update, arg, change):
        obj = make(floor)
        name, value = next(iter(change.items()))
        same = {"name": obj.name, "enabled": obj.enabled}

        unchanged = update(**{arg: obj}, actor=floor.manager, via="api", **same)
        assert unchanged.pk == obj.pk and _changes(obj) == []

        updated = update(**{arg: obj}, actor=floor.manager, via="api", **same, **change)
        assert getattr(updated, name) == value
        assert getattr(type(obj).objects.get(pk=obj.pk), name) == value
        assert _changes(obj) == [f"Changed {name} via api"]

    def test_it_refuses_unknown_fields_and_ways(self, floor, make, update, arg, change):
        obj = make(floor)
        with pytest.raises(TypeError, match="unknown fields \\['created_by'\\]"):
            update(**{arg: obj}, actor=floor.manager, via="api", created_by=None)
        with pytest.raises(ValueError, match="via must be one of"):
            update(**{arg: obj}, actor=floor.manager, via="mail", **change)
        assert _changes(obj) == []

    def test_it_saves_nothing_that_does_not_validate(self, floor, make, update, arg, change):
        obj = make(floor)
        with pytest.raises(ValidationError):
            update(**{arg: obj}, actor=floor.manager, via="api", name=" ")
        assert type(obj).objects.get(pk=obj.pk).name == obj.name
        assert _changes(obj) == []


@pytest.mark.django_db
class TestCreateChecks:
    @pytest.mark.parametrize("create", [maintenance_window_create, inhibit_rule_create])
    def test_it_refuses_unknown_fields_and_ways(self, floor, create):
        with pytest.raises(TypeError, match="unknown fields \\['colour'\\]"):
            create(actor=floor.manager, via="api", name="x", colour="red")
        with pytest.raises(ValueError, match="via must be one of"):
            create(actor=floor.manager, via="mail", name="x", colour="red")
        assert not MaintenanceWindow.objects.exists() and not InhibitRule.objects.exists()


@pytest.mark.django_db
class TestSilencerCache:
    def _loaded(self) -> None:
        active_silencers(datetime.now(UTC))
        assert suppression._cache is not None

    def test_a_window_change_clears_it(self, floor):
        window = _window(floor)
        self._loaded()
        maintenance_window_update(window=window, actor=floor.manager, via="api", name=window.name)
        assert suppression._cache is not None  # nothing changed: nothing to clear
        maintenance_window_update(window=window, actor=floor.manager, via="api", name="Renamed")
        assert suppression._cache is None

    def test_a_rule_change_leaves_it(self, floor):
        rule = _rule(floor)
        self._loaded()
        inhibit_rule_update(rule=rule, actor=floor.manager, via="api", name="Renamed")
        assert suppression._cache is not None  # inhibit rules are not silencers


# --- first_silencer: the matchers before the occurrence ------------------------------------


def _silencer(pk: int, matchers: list[dict]) -> Silencer:
    return Silencer(
        kind="window",
        pk=pk,
        label=f"window {pk}",
        matchers=compile_matchers(matchers),
        window=WindowSpec(
            time_zone="Europe/Berlin",
            weekdays=frozenset({6}),
            start_time=time(2),
            duration_minutes=240,
        ),
    )


def test_first_silencer_computes_no_occurrence_for_an_alert_it_does_not_match(monkeypatch):
    asked: list[int] = []
    open_until = Silencer.open_until

    def counted(self, at):
        asked.append(self.pk)
        return open_until(self, at)

    monkeypatch.setattr(Silencer, "open_until", counted)
    other, prod = (
        _silencer(1, [{"field": "source", "op": "=", "value": "web01"}]),
        _silencer(2, DB01),
    )
    sunday_3am_berlin = datetime(2030, 6, 2, 1, tzinfo=UTC)
    monday = datetime(2030, 6, 3, 1, tzinfo=UTC)

    reason = first_silencer([other, prod], {"source": "db01", "labels": {}}, sunday_3am_berlin)
    assert reason == "maintenance window window 2 until 06:00 Europe/Berlin"
    assert first_silencer([other, prod], {"source": "db01", "labels": {}}, monday) is None
    assert (
        first_silencer([other, prod], {"source": "db02", "labels": {}}, sunday_3am_berlin) is None
    )
    assert asked == [2, 2]
