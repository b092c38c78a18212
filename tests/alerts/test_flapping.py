"""Flapping: 5 state changes within 10 minutes open no new incident until 10 quiet minutes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError

from alerts import ingest
from alerts.flapping import FlapPolicy, flap_changes_kept, flap_is_flapping
from alerts.ingest import deliveries_process_batch, deliveries_sweep, flapping_clear_quiet
from alerts.models import Alert, FlapState, InboundEvent
from incidents.models import Incident, IncidentEvent
from tests.base import post_alert, process, run_concurrently

POLICY = FlapPolicy(threshold=5, window=timedelta(minutes=10), quiet=timedelta(minutes=10))
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

# No name: the group key then follows the summary, which this tool puts a number in; so without
# flapping each new firing with another number would open an incident of its own.
LINK = {"summary": "Link sw-01/ge-0 down", "dedup_key": "sw-01/ge-0", "source": "sw-01"}
FIRE = LINK
RESOLVE = {**LINK, "status": "resolved"}


def minutes(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(minutes=offset) for offset in offsets]


# --- the decision -------------------------------------------------------------------------------


def test_it_flaps_at_five_changes_within_ten_minutes():
    changes = minutes(0, 2, 4, 6, 8)
    assert flap_is_flapping(changes, now=changes[-1], was_flapping=False, policy=POLICY)
    assert not flap_is_flapping(changes[:4], now=changes[3], was_flapping=False, policy=POLICY)


def test_it_counts_the_window_with_both_ends_included():
    changes = minutes(0, 1, 2, 3, 10)
    assert flap_is_flapping(changes, now=changes[-1], was_flapping=False, policy=POLICY)
    late = minutes(0, 1, 2, 3, 10.01)
    assert not flap_is_flapping(late, now=late[-1], was_flapping=False, policy=POLICY)


def test_it_does_not_flap_when_five_changes_spread_beyond_the_window():
    changes = minutes(0, 3, 6, 9, 12)
    assert not flap_is_flapping(changes, now=changes[-1], was_flapping=False, policy=POLICY)


def test_it_stays_flapping_until_ten_quiet_minutes():
    changes = minutes(0, 2, 4, 6, 8)
    now = T0 + timedelta(minutes=17, seconds=59)
    assert flap_is_flapping(changes, now=now, was_flapping=True, policy=POLICY)
    now = T0 + timedelta(minutes=18)
    assert not flap_is_flapping(changes, now=now, was_flapping=True, policy=POLICY)


def test_it_stays_flapping_when_changes_slow_below_the_threshold_but_do_not_stop():
    changes = minutes(0, 2, 4, 6, 8, 17, 26)
    now = T0 + timedelta(minutes=27)
    assert flap_is_flapping(changes, now=now, was_flapping=True, policy=POLICY)
    assert not flap_is_flapping(changes, now=now, was_flapping=False, policy=POLICY)


def test_it_never_flaps_with_a_threshold_of_zero():
    changes = minutes(0, 1, 2, 3, 4, 5)
    off = FlapPolicy(threshold=0)
    assert not flap_is_flapping(changes, now=changes[-1], was_flapping=True, policy=off)


def test_it_keeps_only_the_changes_that_can_still_count():
    assert flap_changes_kept(minutes(7, 1, 3, 2, 5, 6), policy=POLICY) == minutes(2, 3, 5, 6, 7)


# --- through the webhook ------------------------------------------------------------------------


def resolve_incident(floor, incident: Incident) -> None:
    response = floor.client_for(floor.alice).post(f"/incidents/{incident.pk}/resolve/")
    assert response.status_code == 200


def flap(client, floor, changes: int) -> None:
    """Alternate fire and resolve, `changes` state changes in all, then process."""
    for n in range(changes):
        post_alert(client, floor.token, FIRE if n % 2 == 0 else RESOLVE)
    process()


def latest_alert() -> Alert:
    return Alert.objects.order_by("-id").first()


def test_it_marks_the_fifth_change_flapping_and_opens_no_second_incident(client, floor):
    flap(client, floor, 4)
    first = Incident.objects.get()
    resolve_incident(floor, first)
    assert not latest_alert().flapping
    response = post_alert(client, floor.token, FIRE)
    process()
    alert = latest_alert()
    assert alert.status == "firing"
    assert alert.flapping
    assert alert.incident is None  # its previous incident is resolved: nobody is paged
    assert Incident.objects.count() == 1
    result = InboundEvent.objects.get(pk=response.json()["delivery_id"]).result["alerts"][0]
    assert result["flapping"] is True
    # Said on the incident the fingerprint last belonged to.
    assert first.events.filter(kind=IncidentEvent.Kind.FLAPPING).count() == 1


def test_it_does_not_flap_at_four_changes(client, floor):
    flap(client, floor, 4)
    assert not FlapState.objects.get().flapping
    assert not Alert.objects.filter(flapping=True).exists()
    assert not IncidentEvent.objects.filter(kind=IncidentEvent.Kind.FLAPPING).exists()


def test_it_does_not_count_repeats_as_state_changes(client, floor):
    for _ in range(6):
        post_alert(client, floor.token, FIRE)
    process()
    alert = Alert.objects.get()
    assert (alert.count, alert.flapping) == (6, False)
    assert len(FlapState.objects.get().changes) == 1


def test_it_joins_a_flapping_firing_to_the_previous_alerts_open_incident(client, floor):
    flap(client, floor, 4)
    incident = Incident.objects.get()
    # Another number in the summary: another group key, so only flapping keeps it here.
    post_alert(client, floor.token, {**FIRE, "summary": "Link sw-01/ge-0 down (2)"})
    process()
    alert = latest_alert()
    assert alert.flapping
    assert alert.incident == incident
    assert Incident.objects.count() == 1
    incident.refresh_from_db()
    assert incident.alert_count == 3


def test_it_says_flapping_once_on_the_incident(client, floor):
    flap(client, floor, 9)
    incident = Incident.objects.get()
    events = incident.events.filter(kind=IncidentEvent.Kind.FLAPPING)
    assert events.count() == 1
    assert "flapping" in events.get().message
    assert events.get().data["flapping"] is True


def test_it_can_start_flapping_on_a_resolve(client, floor, settings):
    settings.IOC_FLAP_THRESHOLD = 4
    flap(client, floor, 4)
    alert = latest_alert()
    assert (alert.status, alert.flapping) == ("resolved", True)
    assert alert.incident.events.filter(kind=IncidentEvent.Kind.FLAPPING).count() == 1


def test_it_takes_the_threshold_from_settings(client, floor, settings):
    settings.IOC_FLAP_THRESHOLD = 3
    flap(client, floor, 3)
    assert latest_alert().flapping


def quiet_for(duration: timedelta) -> None:
    """Move the stored history of every fingerprint back, as if time had passed."""
    for state in FlapState.objects.all():
        state.changes = [
            (datetime.fromisoformat(change) - duration).isoformat() for change in state.changes
        ]
        state.last_change_at -= duration
        state.save()


def test_it_clears_after_ten_quiet_minutes(client, floor):
    flap(client, floor, 6)  # flapping, last change a resolve
    incident = Incident.objects.get()
    quiet_for(timedelta(minutes=9, seconds=50))
    assert flapping_clear_quiet() == 0
    assert Alert.objects.filter(flapping=True).exists()
    quiet_for(timedelta(seconds=11))
    assert flapping_clear_quiet() == 1
    assert not Alert.objects.filter(flapping=True).exists()
    assert not FlapState.objects.get().flapping
    ended = incident.events.filter(kind=IncidentEvent.Kind.FLAPPING).last()
    assert ended.data["flapping"] is False
    # Steady again: a new firing after the incident is resolved opens a new one.
    resolve_incident(floor, incident)
    post_alert(client, floor.token, FIRE)
    process()
    assert Incident.objects.count() == 2
    assert not latest_alert().flapping


def test_it_gives_an_alert_that_settled_firing_its_incident_when_flapping_ends(client, floor):
    flap(client, floor, 4)
    resolve_incident(floor, Incident.objects.get())
    post_alert(client, floor.token, FIRE)
    process()
    alert = latest_alert()
    assert (alert.flapping, alert.incident) == (True, None)
    quiet_for(timedelta(minutes=11))
    flapping_clear_quiet()
    alert.refresh_from_db()
    assert not alert.flapping
    assert alert.incident is not None
    assert alert.incident.is_open
    assert Incident.objects.count() == 2


def test_it_is_cleared_by_the_sweep(client, floor):
    flap(client, floor, 5)
    quiet_for(timedelta(minutes=11))
    deliveries_sweep()
    assert not Alert.objects.filter(flapping=True).exists()


def test_it_counts_afresh_after_the_quiet_time(client, floor):
    flap(client, floor, 5)
    quiet_for(timedelta(minutes=11))
    flapping_clear_quiet()
    post_alert(client, floor.token, RESOLVE)
    process()
    assert not latest_alert().flapping


@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_history_per_fingerprint_under_parallel_workers(client, settings):
    from tests.base import Floor

    floor = Floor()
    settings.IOC_PROCESS_BATCH_SIZE = 3
    for n in range(24):
        # Four fingerprints, each fired and resolved in turn, six changes each.
        key = f"link-{n % 4}"
        body = {"summary": f"{key} down", "dedup_key": key}
        post_alert(client, floor.token, body if (n // 4) % 2 == 0 else {**body, "status": "ok"})

    def worker():
        while deliveries_process_batch():
            pass

    errors = run_concurrently(worker, [()] * 4)
    assert errors == []
    # A delivery that lost lock races three times in a row stays pending, for the sweep.
    process()
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    # One history per fingerprint, and still one unresolved alert per fingerprint at most.
    assert FlapState.objects.count() == 4
    assert Alert.objects.exclude(status="resolved").count() <= 4


@pytest.mark.batch_fallback
def test_it_leaves_a_delivery_that_lost_a_deadlock_pending(client, floor, monkeypatch):
    class Deadlock(Exception):
        sqlstate = "40P01"

    def deadlocked(**kwargs):
        raise OperationalError("deadlock detected") from Deadlock()

    monkeypatch.setattr(ingest, "alert_apply", deadlocked)
    response = post_alert(client, floor.token, FIRE)
    process()
    event = InboundEvent.objects.get(pk=response.json()["delivery_id"])
    assert (event.status, event.attempts) == ("pending", 1)
    assert "deadlock" in event.error
    monkeypatch.undo()
    process()
    event.refresh_from_db()
    assert (event.status, event.error) == ("processed", "")
    assert Alert.objects.count() == 1
