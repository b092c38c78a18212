"""Checklists and runbooks: matching and applying templates, adding, ticking and assigning items
through the services, the REST API, the htmx views and the admin."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.checklists import (
    checklist_apply_runbooks,
    checklist_assignee_choices,
    checklist_item_add,
    checklist_item_assign,
    checklist_item_set_done,
    incident_records_context,
    runbook_steps_parse,
)
from incidents.models import ChecklistItem, Incident, RunbookTemplate
from incidents.selectors import incident_user_may_act
from incidents.services import incident_open
from tests.base import api_client_for, post_alert, process


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(client, floor.token, {"summary": "Link down on core-sw-1", "severity": "critical"})
    process()
    return Incident.objects.get()


@pytest.fixture
def item(floor, incident) -> ChecklistItem:
    return checklist_item_add(
        incident=incident, title="Check the uplink", actor=floor.alice, via="web"
    )


def _runbook(name: str, *, service: str = "", alert_name: str = "", steps=None, enabled=True):
    return RunbookTemplate.objects.create(
        name=name,
        service=service,
        alert_name=alert_name,
        steps=steps if steps is not None else [{"title": f"{name}: first step"}],
        enabled=enabled,
    )


def _open(floor, service: str = "ledger-db") -> Incident:
    return incident_open(
        team=floor.first_line, title="Replication lag", severity="SEV3", service=service
    )


# --- runbooks ------------------------------------------------------------------------------


def test_it_applies_the_runbooks_matching_service_and_alert_name(floor):
    incident = _open(floor, service="Ledger-DB")
    _runbook("a-service", service="ledger-db")
    _runbook("b-alert", alert_name="ReplicationLag")
    _runbook("c-any", steps=[{"title": "Open a bridge"}, "Tell the service owner"])
    _runbook("d-both", service="ledger-db", alert_name="ReplicationLag")
    _runbook("x-other-service", service="web-shop")
    _runbook("x-other-alert", alert_name="DiskFull")
    _runbook("x-disabled", service="ledger-db", enabled=False)

    added = checklist_apply_runbooks(incident=incident, alert_name=" replicationlag ")

    items = list(incident.checklist.order_by("position"))
    assert added == 5 == len(items)
    assert [i.title for i in items] == [
        "a-service: first step",
        "b-alert: first step",
        "Open a bridge",
        "Tell the service owner",
        "d-both: first step",
    ]
    assert [i.position for i in items] == [0, 1, 2, 3, 4]
    assert {i.template.name for i in items} == {"a-service", "b-alert", "c-any", "d-both"}
    events = incident.events.filter(kind="checklist_item")
    assert events.count() == 4
    assert all(e.via == "system" and e.actor is None for e in events)
    assert "Runbook 'c-any' applied: 2 steps" in [e.message for e in events]


def test_a_runbook_for_an_alert_name_needs_that_alert(floor):
    incident = _open(floor)
    _runbook("alert-only", alert_name="ReplicationLag")
    _runbook("service-only", service="ledger-db")
    assert checklist_apply_runbooks(incident=incident) == 1
    assert incident.checklist.get().template.name == "service-only"


def test_an_incident_without_a_service_gets_only_runbooks_for_any_service(floor):
    incident = _open(floor, service="")
    _runbook("any")
    _runbook("ledger", service="ledger-db")
    assert checklist_apply_runbooks(incident=incident, alert_name="Whatever") == 1
    assert incident.checklist.get().title == "any: first step"


def test_opening_an_incident_applies_the_matching_runbooks(floor):
    # Runbooks in place first: opening the incident applies them by itself.
    _runbook("ledger", service="ledger-db", steps=["one", "two"])
    incident = _open(floor)
    assert list(incident.checklist.values_list("title", flat=True)) == ["one", "two"]
    assert checklist_apply_runbooks(incident=incident) == 0


def test_it_applies_each_runbook_once_per_incident(floor):
    incident = _open(floor)
    _runbook("ledger", service="ledger-db", steps=["one", "two"])
    assert checklist_apply_runbooks(incident=incident) == 2
    assert checklist_apply_runbooks(incident=incident) == 0
    # A later alert may bring a runbook of its own; the first one is not repeated.
    _runbook("lag", alert_name="ReplicationLag", steps=["three"])
    assert checklist_apply_runbooks(incident=incident, alert_name="ReplicationLag") == 1
    assert list(incident.checklist.values_list("title", "position")) == [
        ("one", 0),
        ("two", 1),
        ("three", 2),
    ]


def test_it_skips_a_runbook_with_broken_steps(floor, caplog):
    incident = _open(floor)
    _runbook("broken", steps=[{"link": "https://example.org/"}])
    _runbook("fine", steps=["Check the logs"])
    assert checklist_apply_runbooks(incident=incident) == 1
    assert "runbook template" in caplog.text


def test_it_parses_runbook_steps():
    steps = ["Check", {"title": " Fail over ", "link": "https://wiki.example/failover"}]
    assert runbook_steps_parse(steps) == [
        ("Check", ""),
        ("Fail over", "https://wiki.example/failover"),
    ]
    for bad, message in [
        ({"title": "x"}, "must be a list"),
        ([{"title": ""}], "step 1: needs a title"),
        (["ok", 7], "step 2"),
        ([{"title": "x", "link": "javascript:alert(1)"}], "http"),
        ([{"title": "x", "link": 3}], "string"),
    ]:
        with pytest.raises(ValueError, match=message):
            runbook_steps_parse(bad)


# --- items through the services ------------------------------------------------------------


def test_it_adds_items_at_the_end_with_a_timeline_event(floor, incident, item):
    second = checklist_item_add(
        incident=incident,
        title="  Call the carrier ",
        link="https://carrier.example/",
        assignee=floor.dave,
        actor=floor.alice,
        via="api",
    )
    assert (second.title, second.position, second.assignee) == ("Call the carrier", 1, floor.dave)
    event = incident.events.filter(kind="checklist_item").last()
    assert (event.actor, event.via, event.data["item"]) == (floor.alice, "api", second.pk)
    assert "Call the carrier" in event.message


def test_it_refuses_an_item_without_a_title_or_with_a_script_link(floor, incident):
    with pytest.raises(ValidationError) as empty:
        checklist_item_add(incident=incident, title="  ", actor=floor.alice, via="web")
    assert "title" in empty.value.message_dict
    with pytest.raises(ValidationError) as script:
        checklist_item_add(
            incident=incident, title="x", link="javascript:alert(1)", actor=floor.alice, via="web"
        )
    assert "link" in script.value.message_dict
    assert not incident.checklist.exists()


def test_it_ticks_and_unticks_recording_who(floor, incident, item):
    item = checklist_item_set_done(item=item, done=True, actor=floor.dave, via="web")
    assert item.done_by == floor.dave and item.done_at is not None
    events = incident.events.filter(kind="checklist_item")
    count = events.count()
    # Ticking a ticked item changes nothing: two people clicking at once leave one event.
    checklist_item_set_done(item=item, done=True, actor=floor.alice, via="web")
    item.refresh_from_db()
    assert item.done_by == floor.dave and events.count() == count
    item = checklist_item_set_done(item=item, done=False, actor=floor.alice, via="api")
    assert item.done_at is None and item.done_by is None
    last = events.last()
    assert (last.actor, last.via, last.data["action"]) == (floor.alice, "api", "reopened")


def test_it_assigns_only_people_who_may_act(floor, incident, item):
    item = checklist_item_assign(item=item, assignee=floor.dave, actor=floor.alice, via="web")
    assert item.assignee == floor.dave
    assert "assigned to dave" in incident.events.last().message
    for outsider in (floor.paul, floor.olga):
        with pytest.raises(ValidationError):
            checklist_item_assign(item=item, assignee=outsider, actor=floor.alice, via="web")
    item.refresh_from_db()
    assert item.assignee == floor.dave
    item = checklist_item_assign(item=item, assignee=None, actor=floor.alice, via="web")
    assert item.assignee is None
    assert incident.events.last().data == {"action": "assigned", "item": item.pk, "assignee": None}


def test_the_assignee_choices_are_who_may_act(client, floor, incident):
    post_alert(client, floor.vendor_token, {"summary": "Payments slow"})
    process()
    vendor_incident = Incident.objects.get(team=floor.vendor)
    people = [floor.admin, floor.manager, floor.alice, floor.dave, floor.paul, floor.olga]
    for case in (incident, vendor_incident):
        choices = set(checklist_assignee_choices(incident=case))
        for person in people:
            assert (person in choices) == incident_user_may_act(user=person, incident=case), (
                person,
                case.team,
            )


def test_changes_are_pushed_live_after_commit(floor, incident, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        checklist_item_add(incident=incident, title="Check", actor=floor.alice, via="web")
    assert len(callbacks) == 1


# --- the partials and their context --------------------------------------------------------


def test_the_records_context_renders_both_partials(floor, incident, item):
    context = {"incident": incident, **incident_records_context(incident=incident, user=floor.olga)}
    checklist = render_to_string("incidents/_checklist.html", context)
    assert f'id="checklist-{incident.pk}"' in checklist
    assert "Check the uplink" in checklist
    assert "hx-post" not in checklist  # an observer sees, but may not act
    link = render_to_string("incidents/_postmortem_link.html", context)
    assert "Postmortem required" in link
    assert f"/incidents/{incident.pk}/postmortem/" in link


# --- REST API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/incidents/{pk}/checklist/"),
        ("post", "/api/v1/incidents/{pk}/checklist/"),
        ("patch", "/api/v1/incidents/{pk}/checklist/{item}/"),
    ],
)
def test_the_api_answers_401_without_a_token(item, method, path):
    response = getattr(Client(), method)(
        path.format(pk=item.incident_id, item=item.pk), content_type="application/json"
    )
    assert response.status_code == 401
    assert "error" in response.json()


def test_the_api_lists_and_adds_items(floor, incident, item):
    api = api_client_for(floor.alice)
    url = f"/api/v1/incidents/{incident.pk}/checklist/"
    created = api.post(
        url,
        {"title": "Call the carrier", "link": "https://carrier.example/", "assignee": "dave"},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "Call the carrier"
    assert (body["assignee"], body["done"], body["position"]) == ("dave", False, 1)
    listed = api.get(url).json()["results"]
    assert [i["title"] for i in listed] == ["Check the uplink", "Call the carrier"]
    assert set(listed[0]) == {
        "id",
        "position",
        "title",
        "link",
        "runbook",
        "assignee",
        "done",
        "done_at",
        "done_by",
    }
    assert incident.events.last().via == "api"


def test_the_api_refuses_bad_items_with_400(floor, incident):
    api = api_client_for(floor.alice)
    url = f"/api/v1/incidents/{incident.pk}/checklist/"
    bad_link = api.post(
        url, {"title": "x", "link": "javascript:alert(1)"}, content_type="application/json"
    )
    assert bad_link.status_code == 400
    assert "link" in bad_link.json()["fields"]
    no_title = api.post(url, {}, content_type="application/json")
    assert no_title.status_code == 400
    assert "title" in no_title.json()["fields"]
    outsider = api.post(url, {"title": "x", "assignee": "paul"}, content_type="application/json")
    assert outsider.status_code == 400
    assert "assignee" in outsider.json()["fields"]


def test_the_api_ticks_and_assigns(floor, incident, item):
    api = api_client_for(floor.dave)
    url = f"/api/v1/incidents/{incident.pk}/checklist/{item.pk}/"
    ticked = api.patch(url, {"done": True, "assignee": "alice"}, content_type="application/json")
    assert ticked.status_code == 200
    body = ticked.json()
    assert (body["done"], body["done_by"], body["assignee"]) == (True, "dave", "alice")
    assert body["done_at"]
    unassigned = api.patch(url, {"assignee": None}, content_type="application/json")
    assert unassigned.json()["assignee"] is None
    assert api.patch(url, {}, content_type="application/json").status_code == 400


def test_the_api_applies_a_patch_whole_or_not_at_all(floor, incident, item):
    response = api_client_for(floor.alice).patch(
        f"/api/v1/incidents/{incident.pk}/checklist/{item.pk}/",
        {"done": True, "assignee": "paul"},
        content_type="application/json",
    )
    assert response.status_code == 400
    item.refresh_from_db()
    assert item.done_at is None


def test_the_api_lets_an_observer_read_but_not_act(floor, incident, item):
    api = api_client_for(floor.olga)
    assert api.get(f"/api/v1/incidents/{incident.pk}/checklist/").status_code == 200
    added = api.post(
        f"/api/v1/incidents/{incident.pk}/checklist/",
        {"title": "x"},
        content_type="application/json",
    )
    assert added.status_code == 403
    assert "error" in added.json()
    ticked = api.patch(
        f"/api/v1/incidents/{incident.pk}/checklist/{item.pk}/",
        {"done": True},
        content_type="application/json",
    )
    assert ticked.status_code == 403
    item.refresh_from_db()
    assert item.done_at is None


def test_the_api_hides_other_teams_incidents_with_404(floor, incident, item):
    api = api_client_for(floor.paul)
    assert api.get(f"/api/v1/incidents/{incident.pk}/checklist/").status_code == 404
    response = api.post(
        f"/api/v1/incidents/{incident.pk}/checklist/",
        {"title": "x"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert "error" in response.json()


def test_the_api_answers_404_for_an_item_of_another_incident(floor, incident, item):
    other = _open(floor)
    response = api_client_for(floor.alice).patch(
        f"/api/v1/incidents/{other.pk}/checklist/{item.pk}/",
        {"done": True},
        content_type="application/json",
    )
    assert response.status_code == 404


# --- browser (htmx) ------------------------------------------------------------------------


def test_the_web_adds_an_item_and_answers_with_the_partial(floor, incident):
    response = floor.client_for(floor.alice).post(
        f"/incidents/{incident.pk}/checklist/add/",
        {"title": "Check the uplink", "link": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="checklist-{incident.pk}"' in content
    assert "<html" not in content
    assert "Check the uplink" in content
    event = incident.events.last()
    assert (event.kind, event.actor, event.via) == ("checklist_item", floor.alice, "web")


def test_the_web_shows_why_an_item_was_refused(floor, incident):
    response = floor.client_for(floor.alice).post(
        f"/incidents/{incident.pk}/checklist/add/", {"title": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b"An item needs a title." in response.content
    assert f'id="checklist-{incident.pk}"'.encode() in response.content


def test_the_web_ticks_with_the_checkbox_state(floor, incident, item):
    client = floor.client_for(floor.dave)
    url = f"/incidents/{incident.pk}/checklist/{item.pk}/done/"
    assert client.post(url, {"done": "1"}, HTTP_HX_REQUEST="true").status_code == 200
    item.refresh_from_db()
    assert item.done_by == floor.dave
    response = client.post(url, {}, HTTP_HX_REQUEST="true")  # an unticked box sends nothing
    item.refresh_from_db()
    assert item.done_at is None
    assert b"checked" not in response.content


def test_the_web_assigns(floor, incident, item):
    client = floor.client_for(floor.alice)
    url = f"/incidents/{incident.pk}/checklist/{item.pk}/assign/"
    response = client.post(url, {"assignee": str(floor.dave.pk)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'<option value="{floor.dave.pk}" selected>'.encode() in response.content
    refused = client.post(url, {"assignee": str(floor.paul.pk)}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    assert b"may not act" in refused.content
    client.post(url, {"assignee": ""}, HTTP_HX_REQUEST="true")
    item.refresh_from_db()
    assert item.assignee is None


def test_the_web_refuses_observers_and_hides_from_outsiders(floor, incident, item):
    observer = floor.client_for(floor.olga)
    assert observer.get(f"/incidents/{incident.pk}/checklist/").status_code == 200
    add = f"/incidents/{incident.pk}/checklist/add/"
    assert observer.post(add, {"title": "x"}).status_code == 403
    assert observer.post(f"/incidents/{incident.pk}/checklist/{item.pk}/done/").status_code == 403
    outsider = floor.client_for(floor.paul)
    assert outsider.get(f"/incidents/{incident.pk}/checklist/").status_code == 404
    assert outsider.post(add, {"title": "x"}).status_code == 404
    assert incident.checklist.count() == 1


def test_the_web_needs_a_login_post_and_csrf(floor, incident, item):
    add = f"/incidents/{incident.pk}/checklist/add/"
    anonymous = Client().post(add, {"title": "x"})
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    assert floor.client_for(floor.alice).get(add).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor.alice)
    assert client.post(add, {"title": "x"}).status_code == 403
    token = client.get(f"/incidents/{incident.pk}/").cookies["csrftoken"].value
    assert client.post(add, {"title": "x"}, HTTP_X_CSRFTOKEN=token).status_code == 200
    assert incident.checklist.count() == 2


# --- admin ---------------------------------------------------------------------------------


def test_the_admin_validates_runbook_steps(floor):
    client = floor.client_for(floor.admin)
    form = {"name": "DB lag", "service": "ledger-db", "alert_name": "", "enabled": "on"}
    bad = client.post(
        "/admin/incidents/runbooktemplate/add/", {**form, "steps": '[{"link": "https://x.org"}]'}
    )
    assert bad.status_code == 200
    assert b"step 1: needs a title" in bad.content
    good = client.post(
        "/admin/incidents/runbooktemplate/add/",
        {**form, "steps": '[{"title": "Check replication", "link": "https://wiki.example/db"}]'},
    )
    assert good.status_code == 302
    assert RunbookTemplate.objects.get().steps[0]["title"] == "Check replication"


def test_the_incident_admin_shows_records_read_only(floor, incident, item):
    client = floor.client_for(floor.admin)
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Check the uplink" in content
    assert "required, not started" in content
    assert 'name="commander"' not in content
    assert 'name="resolution_summary"' not in content
    assert 'name="checklist-0-title"' not in content


def test_rendering_the_checklist_costs_the_same_queries_for_many_items(floor, incident, item):
    def render() -> int:
        incident.refresh_from_db()
        with CaptureQueriesContext(connection) as queries:
            context = incident_records_context(incident=incident, user=floor.alice)
            render_to_string("incidents/_checklist.html", {"incident": incident, **context})
        return len(queries)

    checklist_item_set_done(item=item, done=True, actor=floor.dave, via="web")
    checklist_item_assign(item=item, assignee=floor.dave, actor=floor.alice, via="web")
    one = render()
    for number in range(5):
        more = checklist_item_add(
            incident=incident, title=f"Step {number}", actor=floor.alice, via="web"
        )
        checklist_item_set_done(item=more, done=True, actor=floor.alice, via="web")
        checklist_item_assign(item=more, assignee=floor.alice, actor=floor.alice, via="web")
    assert render() == one
