"""The escalation engine on PostgreSQL: each step kind, acknowledgement, re-trigger, resolve
notices, the policy snapshot, the fallback, and racing sweepers."""

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import close_old_connections, transaction
from django.utils import timezone

from incidents import escalation_engine as engine
from incidents import ownership, services
from incidents.escalation_models import Escalation, EscalationPolicy, EscalationStep, Notification
from incidents.models import Incident
from teams.models import ContactMethod, NotificationRule
from teams.services import LayerInput, schedule_create


def later(minutes: float = 0, seconds: float = 0):
    return timezone.now() + timedelta(minutes=minutes, seconds=seconds)


def reach(user, *kinds) -> list[ContactMethod]:
    """Contact methods for a person; beyond the default (in-app and email) they need a rule."""
    methods = []
    for position, kind in enumerate(kinds or ("email",)):
        address = {
            "email": f"{user.username}@example.org",
            "sms": "+4915100000000",
            "in_app": "",
        }.get(kind, "http://127.0.0.1:9/hook")
        method = ContactMethod.objects.create(user=user, kind=kind, address=address)
        if len(kinds) > 1 or kind not in ("email", "in_app"):
            NotificationRule.objects.create(user=user, contact_method=method, position=position)
        methods.append(method)
    return methods


def policy(team, *steps, ack_timeout=0, default=True) -> EscalationPolicy:
    pol = EscalationPolicy.objects.create(
        name=f"{team.slug} policy", team=team, is_default=default, ack_timeout_minutes=ack_timeout
    )
    for position, (kind, extra) in enumerate(steps, start=1):
        users = extra.pop("users", [])
        step = EscalationStep.objects.create(policy=pol, position=position, kind=kind, **extra)
        step.users.set(users)
    return pol


def open_incident(team, title="Disk full", severity="SEV3") -> Incident:
    return services.incident_open(team=team, title=title, severity=severity)


@contextmanager
def row_held_elsewhere(model, pk: int):
    """Another connection holds the row's lock (FOR UPDATE) until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                model.objects.select_for_update().get(pk=pk)
                holding.set()
                release.wait(timeout=30)
        finally:
            close_old_connections()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        yield
    finally:
        release.set()
        thread.join(timeout=30)


def run(minutes_later: float = 0) -> int:
    return engine.escalations_run_due(now=later(minutes=minutes_later))


def pages(incident, **filters):
    return Notification.objects.filter(incident=incident, purpose="page", **filters)


def test_it_pages_named_users_then_waits_then_the_manager(floor):
    reach(floor.alice)
    reach(floor.manager)
    policy(
        floor.first_line,
        ("notify_users", {"users": [floor.alice], "wait_minutes": 5}),
        ("notify_manager", {}),
    )
    incident = open_incident(floor.first_line)
    assert run() == 1
    assert list(pages(incident).values_list("user__username", flat=True)) == ["alice"]
    assert run(minutes_later=4) == 0  # the wait holds
    assert run(minutes_later=6) == 1
    assert sorted(pages(incident).values_list("user__username", flat=True)) == ["alice", "manager"]
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.state == "exhausted"
    assert incident.events.filter(kind="escalation", message__contains="paging alice").exists()


def test_a_whole_team_and_its_on_call_schedule(floor):
    from django.contrib.auth import get_user_model

    from teams.services import membership_set

    bob = get_user_model().objects.create_user("bob", password="pw-bob-123")
    membership_set(user=bob, team=floor.dba)
    for user in (floor.dave, bob):
        reach(user)
    schedule = schedule_create(
        team=floor.dba,
        name="DBA on-call",
        time_zone="UTC",
        layers=[
            LayerInput(
                name="primary",
                start=timezone.now().date() - timedelta(days=1),
                rotation_kind="daily",
                users=[floor.dave],
            )
        ],
    )
    policy(floor.dba, ("notify_schedule", {"schedule_id": schedule.pk}), ("notify_team", {}))
    incident = open_incident(floor.dba)
    run()
    assert list(pages(incident).values_list("user__username", flat=True)) == ["dave"]
    run()
    assert sorted(pages(incident, step=2).values_list("user__username", flat=True)) == [
        "bob",
        "dave",
    ]


def test_a_hand_off_step_moves_the_incident_and_pages_the_new_team(floor):
    reach(floor.dave)
    from teams.services import schedule_create as create

    create(
        team=floor.dba,
        name="DBA",
        time_zone="UTC",
        layers=[
            LayerInput(
                name="p",
                start=timezone.now().date() - timedelta(days=1),
                rotation_kind="weekly",
                users=[floor.dave],
            )
        ],
    )
    policy(floor.first_line, ("hand_off", {"team": floor.dba}))
    incident = open_incident(floor.first_line)
    run()
    incident.refresh_from_db()
    assert incident.team == floor.dba
    assert incident.hand_offs.get().to_team == floor.dba
    assert list(pages(incident).values_list("user__username", flat=True)) == ["dave"]


def test_a_hand_off_step_to_a_team_with_a_policy_pages_its_on_call_once(floor):
    reach(floor.dave)
    policy(floor.dba, ("notify_users", {"users": [floor.dave]}))
    # The first line's policy is not the default: the incident opens with this one.
    handing = policy(floor.first_line, ("hand_off", {"team": floor.dba}))
    incident = open_incident(floor.first_line)
    assert Escalation.objects.get(incident=incident).snapshot["name"] == handing.name
    run()  # the hand-off step: the DBA policy starts as a new run
    run(minutes_later=1)  # the new run's first step
    incident.refresh_from_db()
    assert incident.team == floor.dba
    assert list(pages(incident).values_list("user__username", "run")) == [("dave", 2)]


def test_one_broken_escalation_does_not_hold_back_the_others(floor, monkeypatch):
    reach(floor.alice)
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))
    broken, fine = open_incident(floor.first_line, "broken"), open_incident(floor.first_line)
    run_step = engine._run_step

    def failing_for_broken(*, escalation, now):
        if escalation.incident_id == broken.pk:
            raise RuntimeError("a bug of ours")
        return run_step(escalation=escalation, now=now)

    monkeypatch.setattr(engine, "_run_step", failing_for_broken)
    assert run() == 1
    assert pages(fine).count() == 1
    assert pages(broken).count() == 0
    monkeypatch.undo()
    assert run() == 1  # tried again by the next sweep
    assert pages(broken).count() == 1


def test_round_robin_takes_the_next_person_each_time(floor):
    for user in (floor.alice, floor.dave, floor.manager):
        reach(user)
    policy(floor.first_line, ("round_robin", {"users": [floor.alice, floor.dave, floor.manager]}))
    paged = []
    for n in range(4):
        incident = open_incident(floor.first_line, title=f"rr {n}")
        run()
        paged.append(pages(incident).get().user.username)
    # The list goes round in a stable order (by account), one person further each incident.
    assert paged == ["manager", "alice", "dave", "manager"]


def test_a_webhook_step_makes_a_notification_without_a_person(floor):
    policy(
        floor.first_line,
        ("webhook", {"webhook_url": "http://127.0.0.1:9/slack", "webhook_format": "slack"}),
    )
    incident = open_incident(floor.first_line)
    run()
    notification = pages(incident).get()
    assert (notification.channel, notification.user) == ("slack", None)
    assert "http://127.0.0.1:9/slack" not in "".join(
        incident.events.values_list("message", flat=True)
    )


def test_the_policy_repeats_a_bounded_number_of_times(floor):
    reach(floor.alice)
    policy(
        floor.first_line,
        ("notify_users", {"users": [floor.alice], "wait_minutes": 1}),
        ("repeat", {"repeat_times": 2, "repeat_from": 1}),
    )
    incident = open_incident(floor.first_line)
    for minutes in (0, 2, 4, 6, 8):
        run(minutes_later=minutes)
    assert pages(incident).count() == 3  # the first time and two repeats
    assert sorted(pages(incident).values_list("repeat", flat=True)) == [0, 1, 2]


def test_personal_rules_make_delayed_rows_and_acknowledgement_cancels_them(floor):
    _email, sms = reach(floor.alice, "email", "sms")
    NotificationRule.objects.filter(contact_method=sms).update(delay_minutes=5)
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))
    incident = open_incident(floor.first_line)
    run()
    rows = {n.channel: n for n in pages(incident)}
    assert set(rows) == {"email", "sms"}
    assert rows["sms"].due_at - rows["email"].due_at >= timedelta(minutes=4, seconds=59)
    services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="api")
    assert pages(incident, status="pending").count() == 0
    assert Escalation.objects.get(incident=incident).state == "acknowledged"


def test_an_acknowledgement_timeout_retriggers_a_new_run(floor):
    reach(floor.alice)
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}), ack_timeout=10)
    incident = open_incident(floor.first_line)
    run()
    services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="api")
    assert engine.escalations_ack_timeouts_due(now=later(minutes=9)) == 0
    assert engine.escalations_ack_timeouts_due(now=later(minutes=11)) == 1
    escalation = Escalation.objects.get(incident=incident)
    assert (escalation.run, escalation.state) == (2, "active")
    run(minutes_later=11)
    # The second run's page is a new row, not swallowed as a repeat of the first.
    assert sorted(pages(incident).values_list("run", flat=True)) == [1, 2]


@pytest.mark.parametrize("stop", ["acknowledge again", "investigate"])
def test_a_retriggered_escalation_stops_when_acknowledged_again_or_moved_on(floor, stop):
    reach(floor.alice)
    policy(
        floor.first_line,
        ("notify_users", {"users": [floor.alice], "wait_minutes": 5}),
        ("notify_manager", {}),
        ack_timeout=10,
    )
    incident = open_incident(floor.first_line)
    run()
    services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="api")
    assert engine.escalations_ack_timeouts_due(now=later(minutes=11)) == 1
    run(minutes_later=11)  # the re-triggered run pages again
    assert Escalation.objects.get(incident=incident).state == "active"
    if stop == "acknowledge again":
        outcome = services.incident_acknowledge(
            incident_id=incident.pk, actor=floor.alice, via="api"
        )
        assert not outcome.changed  # still acknowledged, as before
        incident.refresh_from_db()
        assert incident.events.filter(data__acknowledged_again=True).count() == 1
    else:
        services.incident_transition(
            incident_id=incident.pk, to_status="investigating", actor=floor.alice, via="api"
        )
    assert Escalation.objects.get(incident=incident).state == "acknowledged"
    pages_before = pages(incident).count()
    assert run(minutes_later=30) == 0
    assert pages(incident).count() == pages_before


@pytest.mark.django_db(transaction=True)
def test_acknowledging_never_waits_for_a_page_being_sent(floor):
    # The sender holds its page's row while it sends, then inserts a timeline row (which checks
    # the incident); acknowledging holds the incident, so it must not wait for that page.
    reach(floor.alice)
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))
    incident = open_incident(floor.first_line)
    run()
    page = pages(incident).get()
    with row_held_elsewhere(Notification, page.pk):  # its sender, delivering it
        started = time.monotonic()
        services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="api")
        assert time.monotonic() - started < 5
    page.refresh_from_db()
    assert page.status == "pending"  # left to its sender, which finds it no longer wanted
    from incidents.notifications import notification_deliver_one

    assert notification_deliver_one(now=later(minutes=1))
    page.refresh_from_db()
    assert page.status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_an_acknowledgement_timeout_never_waits_for_an_incident_someone_holds(floor):
    # The workflow locks the incident, then its escalation; the sweep holds the escalation and
    # must not wait for the incident, or the two deadlock. It skips it until the next sweep.
    reach(floor.alice)
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}), ack_timeout=10)
    incident = open_incident(floor.first_line)
    run()
    services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="api")
    with row_held_elsewhere(Incident, incident.pk):  # a person acting on it
        started = time.monotonic()
        assert engine.escalations_ack_timeouts_due(now=later(minutes=11)) == 0
        assert time.monotonic() - started < 5
    assert engine.escalations_ack_timeouts_due(now=later(minutes=11)) == 1
    assert Escalation.objects.get(incident=incident).run == 2


def test_resolve_stops_and_tells_those_paged(floor):
    reach(floor.alice)
    policy(
        floor.first_line,
        ("notify_users", {"users": [floor.alice], "wait_minutes": 5}),
        ("notify_manager", {}),
    )
    incident = open_incident(floor.first_line)
    run()
    pages(incident).update(status="sent")
    services.incident_resolve(incident_id=incident.pk, actor=floor.alice, via="api")
    escalation = Escalation.objects.get(incident=incident)
    assert escalation.state == "stopped"
    assert run(minutes_later=10) == 0
    notices = Notification.objects.filter(incident=incident, purpose="resolved")
    assert list(notices.values_list("user__username", flat=True)) == ["alice"]


def test_the_policy_is_snapshotted_when_escalation_starts(floor):
    reach(floor.alice)
    reach(floor.manager)
    pol = policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))
    incident = open_incident(floor.first_line)
    # The manager edits the policy after the incident opened: the running escalation keeps
    # the copy it started with.
    step = pol.steps.get()
    step.users.set([floor.manager])
    run()
    assert list(pages(incident).values_list("user__username", flat=True)) == ["alice"]


def test_nobody_reachable_pages_the_manager_and_says_so(floor):
    reach(floor.manager)
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))  # alice: no methods
    incident = open_incident(floor.first_line)
    run()
    fallback = pages(incident).get()
    assert (fallback.user, fallback.step) == (floor.manager, -1)
    assert incident.events.filter(kind="escalation", data__fallback=True).exists()


def test_then_the_floor_lead_when_no_manager_is_reachable(floor, settings):
    reach(floor.admin)
    settings.IOC_FLOOR_LEAD = "admin"
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))
    incident = open_incident(floor.first_line)
    run()
    assert pages(incident).get().user == floor.admin


def test_a_step_condition_skips_the_step_outside_its_hours(floor):
    reach(floor.alice)
    policy(
        floor.first_line,
        ("notify_users", {"users": [floor.alice], "condition": {"severities": ["SEV1"]}}),
    )
    incident = open_incident(floor.first_line, severity="SEV3")
    run()
    assert pages(incident).count() == 0
    assert incident.events.filter(message__contains="skipped").exists()


def test_a_manual_hand_off_starts_the_new_teams_policy(floor):
    reach(floor.dave)
    policy(floor.dba, ("notify_users", {"users": [floor.dave]}))
    incident = open_incident(floor.first_line)  # first line has no policy
    assert not Escalation.objects.filter(incident=incident).exists()
    ownership.incident_hand_off(
        incident_id=incident.pk, to_team=floor.dba, reason="db", actor=floor.alice, via="api"
    )
    run()
    assert list(pages(incident).values_list("user__username", flat=True)) == ["dave"]


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_racing_over_500_due_incidents_make_each_page_once():
    from tests.base import Floor

    floor = Floor()
    reach(floor.alice, "email", "sms")
    policy(floor.first_line, ("notify_users", {"users": [floor.alice]}))
    incidents = [open_incident(floor.first_line, title=f"race {n}") for n in range(500)]
    barrier = threading.Barrier(2)
    counts = []

    def sweeper():
        barrier.wait()
        done = 0
        while True:
            ran = engine.escalations_run_due(limit=25)
            done += ran
            if not ran:
                break
        counts.append(done)
        close_old_connections()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(counts) == 500
    assert Notification.objects.count() == 1000  # 500 incidents x (email, sms), once each
    assert Notification.objects.values("key").distinct().count() == 1000
    assert all(Escalation.objects.get(incident=i).state == "exhausted" for i in incidents[:5])


def test_adding_a_team_as_responders_pages_its_on_call(floor):
    reach(floor.dave)
    schedule_create(
        team=floor.dba,
        name="DBA",
        time_zone="UTC",
        layers=[
            LayerInput(
                name="p",
                start=timezone.now().date() - timedelta(days=1),
                rotation_kind="daily",
                users=[floor.dave],
            )
        ],
    )
    incident = open_incident(floor.first_line)
    services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="api")
    ownership.incident_add_responders(
        incident_id=incident.pk, teams=[floor.dba], actor=floor.alice, via="api"
    )
    row = Notification.objects.get(incident=incident)
    assert (row.user, row.purpose, row.status) == (floor.dave, "responders", "pending")
    # Adding the team again pages nobody twice.
    ownership.incident_add_responders(
        incident_id=incident.pk, teams=[floor.dba], actor=floor.alice, via="api"
    )
    assert Notification.objects.filter(incident=incident).count() == 1
    event = incident.events.get(kind="responders_added")
    assert event.data["paged"] == ["dave"]
