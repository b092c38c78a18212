"""Silences, maintenance windows and inhibit rules (alerts/suppression.py): the pure per-alert
checks first, then the loaders and the end-of-window handling on the database."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.utils import timezone

from alerts import ingest
from alerts.matchers import alert_fields, compile_matchers
from alerts.models import Alert, Silence
from alerts.suppression import (
    FiringSource,
    InhibitContext,
    InhibitSpec,
    Silencer,
    active_silencers,
    first_silencer,
    inhibit_context,
    inhibit_context_build,
    inhibit_rule_create,
    inhibition_for,
    maintenance_window_create,
    maintenance_window_delete,
    matchers_error,
    silence_create,
    silence_errors,
    silence_expire,
    silencers_cache_clear,
    silences_handle_ended,
    silencing_for,
)
from alerts.windows import WindowSpec
from tests.base import post_alert, process


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def m(field: str, op: str, value: str = "") -> dict:
    return {"field": field, "op": op, "value": value} if value else {"field": field, "op": op}


def fields(name="DiskFull", source="db01", **labels) -> dict:
    return {"name": name, "source": source, "severity": "high", "labels": labels}


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The silencer cache is per process: a silence from a rolled-back test must not linger.
    silencers_cache_clear()
    yield
    silencers_cache_clear()


# --- pure: silences and windows -----------------------------------------------------------

SILENCE = Silencer(
    kind="silence",
    pk=1,
    label="db01 disk swap",
    matchers=compile_matchers([m("source", "=", "db01")]),
    created_by="alice",
    starts_at=utc(2025, 6, 2, 9),
    ends_at=utc(2025, 6, 2, 14),
)
WINDOW = Silencer(
    kind="window",
    pk=2,
    label="Sunday patching",
    matchers=compile_matchers([m("labels.env", "=", "prod")]),
    window=WindowSpec(
        time_zone="Europe/Berlin",
        weekdays=frozenset({6}),
        start_time=time(2, 0),
        duration_minutes=240,
    ),
)


class TestFirstSilencer:
    def test_it_names_the_silence_its_end_and_its_author(self):
        reason = first_silencer([SILENCE], fields(), utc(2025, 6, 2, 10))
        assert reason == "silenced by db01 disk swap until 14:00 UTC by alice"

    def test_it_gives_the_date_of_an_end_on_another_day(self):
        longer = Silencer(**{**SILENCE.__dict__, "ends_at": utc(2025, 6, 3, 14)})
        assert "until 2025-06-03 14:00 UTC" in first_silencer(
            [longer], fields(), utc(2025, 6, 2, 10)
        )

    def test_it_silences_only_between_start_and_end(self):
        assert first_silencer([SILENCE], fields(), utc(2025, 6, 2, 8, 59)) is None
        assert first_silencer([SILENCE], fields(), utc(2025, 6, 2, 9)) is not None
        assert first_silencer([SILENCE], fields(), utc(2025, 6, 2, 14)) is None

    def test_it_ignores_alerts_that_do_not_match(self):
        assert first_silencer([SILENCE], fields(source="db02"), utc(2025, 6, 2, 10)) is None

    def test_it_names_a_maintenance_window_and_its_local_end(self):
        # Sunday 1 June 2025, 03:00 in Berlin (01:00 UTC): the window is open until 06:00.
        reason = first_silencer([WINDOW], fields(env="prod"), utc(2025, 6, 1, 1))
        assert reason == "maintenance window Sunday patching until 06:00 Europe/Berlin"
        assert first_silencer([WINDOW], fields(env="prod"), utc(2025, 6, 1, 4)) is None
        assert first_silencer([WINDOW], fields(env="test"), utc(2025, 6, 1, 1)) is None

    def test_it_skips_an_occurrence_whose_end_was_handled(self):
        handled = Silencer(**{**WINDOW.__dict__, "handled_until": utc(2025, 6, 1, 4)})
        assert first_silencer([handled], fields(env="prod"), utc(2025, 6, 1, 1)) is None
        # The next Sunday's occurrence is not handled yet.
        assert first_silencer([handled], fields(env="prod"), utc(2025, 6, 8, 1)) is not None

    def test_it_answers_with_the_first_that_matches(self):
        both = fields(env="prod")
        assert first_silencer([SILENCE, WINDOW], both, utc(2025, 6, 1, 1)).startswith("maint")
        assert first_silencer([SILENCE, WINDOW], both, utc(2025, 6, 2, 10)).startswith("silenced")


class TestValidation:
    def test_it_refuses_empty_and_catch_all_matchers(self):
        assert "at least one matcher" in matchers_error([])
        assert "almost everything" in matchers_error(
            [m("labels.env", "!=", "prod")], silencing=True
        )
        assert matchers_error([m("labels.env", "!=", "prod")]) is None  # fine for inhibit rules
        assert "unknown op" in matchers_error([m("source", "==", "db01")])

    def test_it_requires_a_comment_and_an_end_after_the_start_and_now(self):
        now = utc(2025, 6, 2, 10)
        ok = {"matchers": [m("source", "=", "db01")], "comment": "swap", "now": now}
        assert silence_errors(starts_at=now, ends_at=now + timedelta(hours=1), **ok) == {}
        assert "comment" in silence_errors(
            starts_at=now, ends_at=now + timedelta(hours=1), **{**ok, "comment": "  "}
        )
        assert silence_errors(starts_at=now, ends_at=now, **ok) == {
            "ends_at": "the end must be after the start"
        }
        past = silence_errors(starts_at=now - timedelta(hours=2), ends_at=now, **ok)
        assert "in the past" in past["ends_at"]


# --- pure: inhibit rules ------------------------------------------------------------------

NODE_DOWN_MUTES_SERVICES = InhibitSpec(
    pk=1,
    name="node down mutes its services",
    source=compile_matchers([m("name", "=", "NodeDown")]),
    target=compile_matchers([m("severity", "=~", "high|warning")]),
    equal=("cluster",),
)


def context_with(*firing, rules=(NODE_DOWN_MUTES_SERVICES,)) -> InhibitContext:
    return inhibit_context_build(rules, [(key, f) for key, f in firing])


class TestInhibition:
    def test_it_inhibits_a_target_with_the_same_equal_labels(self):
        context = context_with(((9, "node"), fields("NodeDown", cluster="eu-1")))
        reason = inhibition_for(fields=fields("ApiSlow", cluster="eu-1"), firing_sources=context)
        assert reason == "inhibited by rule node down mutes its services: NodeDown is firing"

    def test_it_leaves_targets_with_other_equal_labels(self):
        context = context_with(((9, "node"), fields("NodeDown", cluster="eu-1")))
        target = fields("ApiSlow", cluster="us-1")
        assert inhibition_for(fields=target, firing_sources=context) is None

    def test_it_counts_a_label_missing_on_both_as_equal_but_not_on_one(self):
        context = context_with(((9, "node"), fields("NodeDown")))
        assert inhibition_for(fields=fields("ApiSlow"), firing_sources=context) is not None
        missing_on_source = fields("ApiSlow", cluster="eu-1")
        assert inhibition_for(fields=missing_on_source, firing_sources=context) is None
        context = context_with(((9, "node"), fields("NodeDown", cluster="eu-1")))
        assert inhibition_for(fields=fields("ApiSlow"), firing_sources=context) is None

    def test_it_needs_the_target_to_match(self):
        context = context_with(((9, "node"), fields("NodeDown", cluster="eu-1")))
        critical = {**fields("ApiDown", cluster="eu-1"), "severity": "critical"}
        assert inhibition_for(fields=critical, firing_sources=context) is None

    def test_it_never_lets_an_alert_inhibit_itself(self):
        # Matches both sides: a high NodeDown is its own source and a target.
        rule = InhibitSpec(
            pk=2,
            name="any node down",
            source=compile_matchers([m("name", "=", "NodeDown")]),
            target=compile_matchers([m("name", "=", "NodeDown")]),
            equal=(),
        )
        me = fields("NodeDown", cluster="eu-1")
        context = context_with(((9, "node"), me), rules=(rule,))
        assert inhibition_for(fields=me, firing_sources=context, key=(9, "node")) is None
        assert inhibition_for(fields=me, firing_sources=context) is None  # same fields, no key
        other = fields("NodeDown", source="db02", cluster="eu-1")
        assert inhibition_for(fields=other, firing_sources=context, key=(9, "other"))

    def test_it_counts_alerts_added_during_the_batch(self):
        context = context_with()
        target = fields("ApiSlow", cluster="eu-1")
        assert inhibition_for(fields=target, firing_sources=context) is None
        context.add(fields=fields("NodeDown", cluster="eu-1"), key=(9, "node"))
        assert inhibition_for(fields=target, firing_sources=context) is not None

    def test_it_indexes_sources_by_their_equal_values(self):
        context = context_with(((9, "node"), fields("NodeDown", cluster="eu-1")))
        assert context.sources == {
            1: {
                ("eu-1",): [
                    FiringSource(key=(9, "node"), fields=fields("NodeDown", cluster="eu-1"))
                ]
            }
        }


# --- on the database ----------------------------------------------------------------------


def _silence(floor, *, minutes: int = 60, actor=None, **match) -> Silence:
    matchers = [
        m(f"labels.{k}" if k not in ("source", "name") else k, "=", v) for k, v in match.items()
    ]
    return silence_create(
        matchers=matchers,
        ends_at=timezone.now() + timedelta(minutes=minutes),
        comment="test silence",
        actor=actor or floor.alice,
        via="system",
    )


def _silenced_alert(floor, *, status="firing", fingerprint="fp-1", **values) -> Alert:
    """A stored alert as the processing path leaves a silenced one: no incident, suppression
    "silenced". Made by hand: that path is another module's (it calls silencing_for)."""
    now = timezone.now()
    values = {"summary": "Disk full", "source": "db01", "name": "DiskFull", **values}
    return Alert.objects.create(
        integration=floor.integration,
        fingerprint=fingerprint,
        status=status,
        severity="high",
        first_seen=now - timedelta(minutes=10),
        last_seen=now,
        resolved_at=now if status == "resolved" else None,
        suppression="silenced",
        suppression_reason="silenced by test silence",
        **values,
    )


@pytest.fixture
def routed(monkeypatch):
    """Stands in for alerts.ingest.alert_route_and_attach (the processing path's hook)."""
    calls = []
    lock = threading.Lock()

    def record(*, alert, at):
        with lock:
            calls.append((alert.pk, at))

    monkeypatch.setattr(ingest, "alert_route_and_attach", record, raising=False)
    return calls


@pytest.mark.django_db
class TestSilencingFor:
    def test_it_silences_matching_alerts_while_the_silence_lasts(self, floor):
        _silence(floor, source="db01")
        now = timezone.now()
        reason = silencing_for(fields=fields(source="db01"), at=now)
        assert reason.startswith("silenced by test silence until ") and reason.endswith(" by alice")
        assert silencing_for(fields=fields(source="db02"), at=now) is None
        assert silencing_for(fields=fields(source="db01"), at=now + timedelta(hours=2)) is None

    def test_it_stops_at_once_when_the_silence_is_expired(self, floor):
        silence = _silence(floor, source="db01")
        assert silencing_for(fields=fields(), at=timezone.now())
        silence_expire(silence=silence, actor=floor.alice, via="system")
        assert silencing_for(fields=fields(), at=timezone.now()) is None

    def test_it_loads_once_for_a_whole_batch(self, floor, django_assert_num_queries):
        _silence(floor, source="db01")
        now = timezone.now()
        with django_assert_num_queries(2):  # silences, windows
            active_silencers(now)
        with django_assert_num_queries(0):
            for index in range(100):
                silencing_for(fields=fields(source=f"db{index}"), at=now)

    def test_it_silences_during_a_weekly_window_in_its_zone(self, floor):
        maintenance_window_create(
            name="Sunday patching",
            matchers=[m("labels.env", "=", "prod")],
            reason="OS patches",
            time_zone="Europe/Berlin",
            weekdays=[6],
            start_time=time(2, 0),
            duration_minutes=240,
            actor=floor.manager,
            via="system",
        )
        sunday_3am_berlin = utc(2030, 6, 2, 1)
        reason = silencing_for(fields=fields(env="prod"), at=sunday_3am_berlin)
        assert reason == "maintenance window Sunday patching until 06:00 Europe/Berlin"
        assert silencing_for(fields=fields(env="prod"), at=utc(2030, 6, 2, 5)) is None

    def test_it_ignores_disabled_windows(self, floor):
        maintenance_window_create(
            name="Off",
            matchers=[m("source", "=", "db01")],
            reason="not now",
            starts_at=timezone.now() - timedelta(hours=1),
            ends_at=timezone.now() + timedelta(hours=1),
            enabled=False,
            actor=floor.manager,
            via="system",
        )
        assert silencing_for(fields=fields(), at=timezone.now()) is None


@pytest.mark.django_db
class TestInhibitContext:
    def _rule(self, floor):
        return inhibit_rule_create(
            name="node down mutes its services",
            source_matchers=[m("name", "=", "NodeDown")],
            target_matchers=[m("name", "!=", "NodeDown")],
            equal=["labels.cluster"],
            actor=floor.manager,
            via="system",
        )

    def test_it_finds_the_firing_sources_once_per_batch(self, floor, client):
        self._rule(floor)
        body = {"summary": "node down", "name": "NodeDown", "source": "n1"}
        post_alert(client, floor.token, {**body, "labels": {"cluster": "eu-1"}})
        post_alert(client, floor.token, {"summary": "api slow", "name": "ApiSlow"})
        process()
        context = inhibit_context(timezone.now())
        target = alert_fields({"name": "ApiSlow", "labels": {"cluster": "eu-1"}})
        assert inhibition_for(fields=target, firing_sources=context) == (
            "inhibited by rule node down mutes its services: NodeDown is firing"
        )
        other = alert_fields({"name": "ApiSlow", "labels": {"cluster": "us-1"}})
        assert inhibition_for(fields=other, firing_sources=context) is None

    def test_it_forgets_a_source_once_resolved(self, floor, client):
        self._rule(floor)
        body = {"summary": "node down", "name": "NodeDown", "labels": {"cluster": "eu-1"}}
        post_alert(client, floor.token, body)
        post_alert(client, floor.token, {**body, "status": "resolved"})
        process()
        target = alert_fields({"name": "ApiSlow", "labels": {"cluster": "eu-1"}})
        assert inhibition_for(fields=target, firing_sources=inhibit_context(timezone.now())) is None

    def test_it_reads_no_alerts_without_rules(self, floor, django_assert_num_queries):
        with django_assert_num_queries(1):
            assert inhibit_context(timezone.now()).rules == ()


@pytest.mark.django_db
class TestSilencesHandleEnded:
    def test_it_routes_alerts_still_firing_and_clears_resolved_ones(self, floor, routed):
        silence = _silence(floor, source="db01")
        firing = _silenced_alert(floor)
        resolved = _silenced_alert(floor, status="resolved", fingerprint="fp-2")
        later = silence.ends_at + timedelta(seconds=5)
        assert silences_handle_ended(now=later) == 2
        firing.refresh_from_db()
        resolved.refresh_from_db()
        assert (firing.suppression, firing.suppression_reason) == ("", "")
        assert routed == [(firing.pk, later)]
        # Resolved during the silence: stays resolved, never routed; the reason is its record.
        assert resolved.status == "resolved" and resolved.suppression == ""
        assert resolved.suppression_reason == "silenced by test silence"
        silence.refresh_from_db()
        assert silence.ended_handled_at == later

    def test_it_is_idempotent(self, floor, routed):
        silence = _silence(floor, source="db01")
        _silenced_alert(floor)
        later = silence.ends_at + timedelta(seconds=5)
        assert silences_handle_ended(now=later) == 1
        assert silences_handle_ended(now=later) == 0
        assert silences_handle_ended(now=later + timedelta(minutes=1)) == 0
        assert len(routed) == 1

    def test_it_does_nothing_before_the_end(self, floor, routed):
        silence = _silence(floor, source="db01")
        _silenced_alert(floor)
        assert silences_handle_ended(now=silence.ends_at - timedelta(seconds=1)) == 0
        assert routed == []
        silence.refresh_from_db()
        assert silence.ended_handled_at is None

    def test_it_keeps_alerts_another_silence_still_covers(self, floor, routed):
        short = _silence(floor, minutes=30, source="db01")
        _silence(floor, minutes=120, name="DiskFull")
        alert = _silenced_alert(floor)
        assert silences_handle_ended(now=short.ends_at + timedelta(seconds=5)) == 0
        alert.refresh_from_db()
        assert alert.suppression == "silenced" and routed == []

    def test_it_routes_alerts_once_an_expired_silence_is_handled(self, floor, routed):
        silence = _silence(floor, source="db01")
        alert = _silenced_alert(floor)
        silence_expire(silence=silence, actor=floor.alice, via="system")
        assert silences_handle_ended(now=timezone.now()) == 1
        assert [pk for pk, _ in routed] == [alert.pk]

    def test_it_handles_each_closed_occurrence_of_a_window(self, floor, routed):
        start = timezone.now() - timedelta(minutes=30)
        window = maintenance_window_create(
            name="db01 maintenance",
            matchers=[m("source", "=", "db01")],
            reason="disk swap",
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            actor=floor.manager,
            via="system",
        )
        alert = _silenced_alert(floor)
        resolved = _silenced_alert(floor, status="resolved", fingerprint="fp-2")
        assert silences_handle_ended(now=start + timedelta(minutes=59)) == 0
        after = start + timedelta(hours=1, seconds=5)
        assert silences_handle_ended(now=after) == 2
        assert silences_handle_ended(now=after) == 0
        window.refresh_from_db()
        assert window.last_end_handled == start + timedelta(hours=1)
        assert [pk for pk, _ in routed] == [alert.pk]
        resolved.refresh_from_db()
        assert resolved.suppression == ""

    def test_it_routes_the_alerts_of_a_deleted_window(self, floor, routed):
        window = maintenance_window_create(
            name="db01 maintenance",
            matchers=[m("source", "=", "db01")],
            reason="disk swap",
            starts_at=timezone.now() - timedelta(minutes=5),
            ends_at=timezone.now() + timedelta(hours=1),
            actor=floor.manager,
            via="system",
        )
        alert = _silenced_alert(floor)
        assert silences_handle_ended(now=timezone.now()) == 0
        maintenance_window_delete(window=window, actor=floor.manager, via="system")
        assert silences_handle_ended(now=timezone.now()) == 1
        assert [pk for pk, _ in routed] == [alert.pk]

    def test_it_routes_silenced_alerts_nothing_covers_any_more(self, floor, routed):
        # As after a silence's or window's matchers were edited: the alert no longer matches.
        _silence(floor, source="db02")
        alert = _silenced_alert(floor)
        assert silences_handle_ended(now=timezone.now()) == 1
        assert [pk for pk, _ in routed] == [alert.pk]

    def test_it_goes_on_when_one_alert_cannot_be_routed(self, floor, monkeypatch):
        silence = _silence(floor, source="db01")
        broken, fine = _silenced_alert(floor), _silenced_alert(floor, fingerprint="fp-2")
        routed = []

        def route(*, alert, at):
            if alert.pk == broken.pk:
                raise RuntimeError("no route")
            routed.append(alert.pk)

        monkeypatch.setattr(ingest, "alert_route_and_attach", route, raising=False)
        assert silences_handle_ended(now=silence.ends_at + timedelta(seconds=5)) == 1
        assert routed == [fine.pk]
        broken.refresh_from_db()
        assert broken.suppression == "silenced"  # rolled back: tried again next sweep

    def test_it_gives_a_released_alert_its_incident(self, floor):
        silence = _silence(floor, source="db01")
        alert = _silenced_alert(floor)
        assert alert.incident_id is None
        silences_handle_ended(now=silence.ends_at + timedelta(seconds=5))
        alert.refresh_from_db()
        assert alert.suppression == "" and alert.incident_id is not None


@pytest.mark.django_db(transaction=True)
def test_it_routes_each_alert_once_when_sweeps_run_in_parallel(floor, routed):
    silence = _silence(floor, source="db01")
    alerts = [_silenced_alert(floor, fingerprint=f"fp-{n}") for n in range(20)]
    later = silence.ends_at + timedelta(seconds=5)
    start = threading.Barrier(4)
    errors = []

    def sweep():
        try:
            start.wait()
            silences_handle_ended(now=later)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(pk for pk, _ in routed) == sorted(alert.pk for alert in alerts)
    assert Alert.objects.filter(suppression="silenced").count() == 0


@pytest.mark.django_db
def test_it_records_who_changed_what_in_the_admin_history(floor):
    silence = _silence(floor, source="db01")
    silence_expire(silence=silence, actor=floor.manager, via="system")
    entries = LogEntry.objects.filter(object_id=str(silence.pk)).order_by("id")
    assert [(e.user_id, e.action_flag, e.change_message.split(":")[0]) for e in entries] == [
        (floor.alice.pk, 1, "Created via system"),
        (floor.manager.pk, 2, "Expired via system"),
    ]


@pytest.mark.django_db
class TestThroughTheProcessingPath:
    """The same, with alerts delivered through the webhook and processed for real."""

    def test_it_pages_an_alert_still_firing_once_its_silence_is_expired(self, floor, client):
        silence = _silence(floor, source="db01")
        post_alert(client, floor.token, {"summary": "disk full", "source": "db01"})
        process()
        alert = Alert.objects.get()
        assert alert.suppression == "silenced" and alert.incident_id is None
        assert alert.suppression_reason.startswith("silenced by test silence until")
        silence_expire(silence=silence, actor=floor.alice, via="system")
        assert silences_handle_ended(now=timezone.now()) == 1
        alert.refresh_from_db()
        assert alert.suppression == "" and alert.incident is not None
        assert alert.incident.status == "triggered"

    def test_it_never_pages_an_alert_that_resolved_during_the_silence(self, floor, client):
        silence = _silence(floor, source="db01")
        body = {"summary": "disk full", "source": "db01", "dedup_key": "k"}
        post_alert(client, floor.token, body)
        post_alert(client, floor.token, {**body, "status": "resolved"})
        process()
        silence_expire(silence=silence, actor=floor.alice, via="system")
        assert silences_handle_ended(now=timezone.now()) == 1
        alert = Alert.objects.get()
        assert (alert.status, alert.suppression, alert.incident_id) == ("resolved", "", None)
        assert silences_handle_ended(now=timezone.now() + timedelta(minutes=1)) == 0
        assert not alert.integration.team.incidents.exists()
