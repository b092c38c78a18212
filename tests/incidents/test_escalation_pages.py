"""Escalation in the browser and the admin: the incident page's escalation line and its
notifications with their outcome, the board's on-call panel, policies with inline steps in the
admin, and webhook URLs that never show."""

import pytest

from incidents import services
from incidents.escalation_engine import escalations_run_due
from incidents.escalation_models import EscalationPolicy, EscalationStep, Notification
from incidents.escalation_policies import (
    StepInput,
    escalation_policy_create,
    escalation_policy_update,
)
from incidents.notifications import notifications_deliver_due
from teams.models import ContactMethod

HOOK = "http://127.0.0.1:9/services/T000/B000/s3cr3t"
SLACK_HOOK = "https://hooks.slack.example/services/T000/B000/s3cr3t"  # never called here


@pytest.fixture
def policy(floor, dba_schedule):
    ContactMethod.objects.create(user=floor.alice, kind="email", address="alice@example.org")
    return escalation_policy_create(
        team=floor.first_line,
        name="First line",
        is_default=True,
        steps=[
            StepInput(kind="notify_users", users=(floor.alice,), wait_minutes=10),
            StepInput(kind="notify_schedule", schedule_id=dba_schedule.pk),
        ],
    )


def open_incident(floor):
    return services.incident_open(team=floor.first_line, title="Disk full", severity="SEV3")


def page(floor, incident) -> str:
    response = floor.client_for(floor.alice).get(f"/incidents/{incident.pk}/")
    assert response.status_code == 200
    return response.content.decode()


# --- the incident page ---------------------------------------------------------------------


def test_it_shows_the_escalation_state_and_the_notifications(floor, policy, settings):
    settings.IOC_TIME_ZONE = "Europe/Berlin"
    incident = open_incident(floor)
    assert "Starting, next: step 1 of 2, notify alice" in page(floor, incident)

    escalations_run_due()
    html = page(floor, incident)

    assert "Step 1 of 2, next: notify the on-call of DBA on-call at " in html
    assert "(Europe/Berlin)" in html
    assert 'id="notification-' in html
    assert "Pending" in html

    notifications_deliver_due()
    html = page(floor, incident)

    row = html[html.index('id="notification-') :]
    assert "alice" in row[:400] and "email" in row[:400]
    assert "Sent" in row[:800]


def test_it_shows_a_failed_attempt_with_its_error(floor, dba_schedule):
    escalation_policy_create(
        team=floor.first_line,
        name="Hooks",
        is_default=True,
        steps=[StepInput(kind="webhook", webhook_url=HOOK, webhook_format="webhook")],
    )
    incident = open_incident(floor)
    escalations_run_due()

    notifications_deliver_due()  # port 9 refuses: a transient failure, retried later

    notification = Notification.objects.get(incident=incident)
    assert (notification.status, notification.attempts) == ("pending", 1)
    html = page(floor, incident)
    assert notification.last_error and notification.last_error[:30] in html
    assert "http://127.0.0.1/…" in html


def test_it_describes_the_snapshot_not_the_live_policy(floor, policy):
    incident = open_incident(floor)
    escalations_run_due()

    escalation_policy_update(
        policy=policy, name="Renamed", steps=[StepInput(kind="notify_manager")]
    )

    html = page(floor, incident)
    assert "First line · run 1" in html
    assert "Step 1 of 2, next: notify the on-call of DBA on-call" in html


def test_it_says_so_when_no_policy_applies(floor):
    incident = open_incident(floor)

    assert "No escalation policy applies" in page(floor, incident)


def test_it_shows_acknowledgement_and_resolution(floor, policy):
    incident = open_incident(floor)
    escalations_run_due()

    services.incident_acknowledge(incident_id=incident.pk, actor=floor.alice, via="web")
    assert "Acknowledged: paging stopped" in page(floor, incident)

    services.incident_resolve(incident_id=incident.pk, actor=floor.alice, via="web")
    assert "Stopped: the incident is resolved" in page(floor, incident)


# --- the board -----------------------------------------------------------------------------


def test_the_board_shows_who_is_on_call_now(floor, dba_schedule):
    response = floor.client_for(floor.alice).get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('id="oncall-now"') == 1
    assert "dave" in html[html.index('id="oncall-now"') :]


# --- the admin -----------------------------------------------------------------------------


def step_fields(index: int, **values) -> dict:
    fields = {
        "position": index + 1,
        "kind": "wait",
        "schedule": "",
        "team": "",
        "webhook_url": "",
        "webhook_format": "",
        "wait_minutes": 0,
        "repeat_times": 0,
        "repeat_from": 1,
        "condition": "{}",
        "id": "",
        **values,
    }
    return {f"steps-{index}-{name}": value for name, value in fields.items()}


def policy_form(floor, *steps: dict, initial: int = 0, **fields) -> dict:
    data = {
        "name": "DBA",
        "team": floor.dba.pk,
        "description": "",
        "time_zone": "",
        "ack_timeout_minutes": 0,
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": initial,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        **fields,
    }
    for step in steps:
        data.update(step)
    return data


def test_it_adds_a_policy_with_ordered_inline_steps_in_the_admin(floor, dba_schedule):
    admin = floor.client_for(floor.admin)
    assert admin.get("/admin/incidents/escalationpolicy/add/").status_code == 200

    response = admin.post(
        "/admin/incidents/escalationpolicy/add/",
        policy_form(
            floor,
            step_fields(0, position=20, kind="notify_schedule", schedule=dba_schedule.pk),
            step_fields(1, position=10, kind="notify_users", users=[floor.dave.pk], wait_minutes=5),
            step_fields(
                2,
                position=30,
                kind="repeat",
                repeat_times=2,
                repeat_from=1,
                webhook_url="https://stale.example.org/x",
            ),
            is_default="on",
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    policy = EscalationPolicy.objects.get(name="DBA")
    steps = list(policy.steps.order_by("position"))
    assert [(s.position, s.kind) for s in steps] == [
        (1, "notify_users"),
        (2, "notify_schedule"),
        (3, "repeat"),
    ]
    assert list(steps[0].users.all()) == [floor.dave]
    assert steps[1].schedule_id == dba_schedule.pk
    assert steps[2].webhook_url == ""  # a field the kind does not use is cleared
    assert policy.is_default


def test_it_refuses_a_step_missing_what_its_kind_needs_in_the_admin(floor):
    admin = floor.client_for(floor.admin)

    response = admin.post(
        "/admin/incidents/escalationpolicy/add/",
        policy_form(floor, step_fields(0, kind="notify_users"), step_fields(1, kind="webhook")),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "notify_users needs at least one user" in html
    assert "a webhook step needs a URL" in html
    assert not EscalationPolicy.objects.exists()


def test_it_switches_the_default_and_edits_steps_in_the_admin(floor, policy):
    other = escalation_policy_create(
        team=floor.first_line, name="Nights", steps=[StepInput(kind="notify_manager")]
    )
    step = other.steps.get()
    admin = floor.client_for(floor.admin)
    url = f"/admin/incidents/escalationpolicy/{other.pk}/change/"
    assert admin.get(url).status_code == 200

    response = admin.post(
        url,
        policy_form(
            floor,
            step_fields(0, id=step.pk, kind="notify_manager", position=5, wait_minutes=3),
            step_fields(1, kind="notify_team", position=9),
            initial=1,
            name="Nights",
            team=floor.first_line.pk,
            is_default="on",
        ),
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    other.refresh_from_db()
    assert (policy.is_default, other.is_default) == (False, True)
    assert list(other.steps.values_list("position", "kind", "wait_minutes")) == [
        (1, "notify_manager", 3.0),
        (2, "notify_team", 0.0),
    ]


def test_the_admin_lists_policies_escalations_and_notifications(floor, policy):
    incident = open_incident(floor)
    escalations_run_due()
    admin = floor.client_for(floor.admin)

    listing = admin.get("/admin/incidents/escalationpolicy/").content.decode()
    assert "First line" in listing
    escalations = admin.get("/admin/incidents/escalation/").content.decode()
    assert f"#{incident.number}" in escalations and "1 of 2" in escalations
    notifications = admin.get("/admin/incidents/notification/", {"status": "pending"})
    assert "alice@example.org" in notifications.content.decode()
    assert admin.get("/admin/incidents/escalation/add/").status_code == 403


def test_a_webhook_url_never_shows(floor):
    escalation_policy_create(
        team=floor.first_line,
        name="Hooks",
        is_default=True,
        steps=[StepInput(kind="webhook", webhook_url=SLACK_HOOK, webhook_format="slack")],
    )
    incident = open_incident(floor)
    escalations_run_due()
    notification = Notification.objects.get(incident=incident)
    escalation = incident.escalation
    admin = floor.client_for(floor.admin)

    pages = [
        page(floor, incident),
        admin.get("/admin/incidents/notification/").content.decode(),
        admin.get(f"/admin/incidents/notification/{notification.pk}/change/").content.decode(),
        admin.get("/admin/incidents/escalation/").content.decode(),
        admin.get(f"/admin/incidents/escalation/{escalation.pk}/change/").content.decode(),
    ]

    for html in pages:
        assert "s3cr3t" not in html
    assert "https://hooks.slack.example/…" in pages[1]
    assert "call the slack webhook at https://hooks.slack.example/…" in pages[4]


def test_the_step_admin_explains_the_fields_per_kind(floor):
    html = floor.client_for(floor.admin).get("/admin/incidents/escalationpolicy/add/")

    assert "Which fields each kind uses" in html.content.decode()
    assert EscalationStep.objects.count() == 0
