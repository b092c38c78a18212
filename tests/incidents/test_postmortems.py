"""Postmortems: the draft, publishing, action items, the Markdown export and the rule that a
SEV1/SEV2 incident needs a published postmortem before it closes."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from incidents.checklists import checklist_item_add
from incidents.models import Incident, Postmortem
from incidents.postmortems import (
    PostmortemConflict,
    action_item_add,
    action_item_set_done,
    duration_text,
    postmortem_blocks_close,
    postmortem_markdown,
    postmortem_publish,
    postmortem_start,
    postmortem_update,
    utc_iso,
)
from incidents.services import incident_open, incident_resolve
from tests.base import api_client_for, post_alert, process

OPENED = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(
        client,
        floor.token,
        {"summary": "Ledger replication lag", "severity": "critical", "service": "ledger-db"},
    )
    process()
    return Incident.objects.get()  # SEV2: a major incident


def _resolve(incident: Incident, user=None) -> Incident:
    # Resolved by the system: the procedure's rules for people (a commander on major incidents)
    # are not what these tests are about.
    return incident_resolve(incident_id=incident.pk, actor=None, via="system").incident


def _published(incident: Incident, user) -> Postmortem:
    incident = _resolve(incident, user)
    postmortem = postmortem_start(incident=incident, actor=user, via="web")
    postmortem_update(
        postmortem=postmortem,
        actor=user,
        via="web",
        summary="Replication stalled.",
        root_cause="A long transaction.",
    )
    return postmortem_publish(postmortem=postmortem, actor=user, via="web")


# --- services ------------------------------------------------------------------------------


def test_it_starts_a_draft_prefilled_from_the_incident(floor, incident):
    incident = _resolve(incident, floor.alice)
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    assert postmortem.state == "draft"
    assert postmortem.created_by == floor.alice
    assert postmortem.impact_services == "ledger-db"
    assert postmortem.impact_duration.endswith("min")
    event = incident.events.last()
    assert (event.kind, event.actor, event.via) == ("postmortem", floor.alice, "web")
    assert event.data == {"postmortem": postmortem.pk, "action": "started"}


def test_it_refuses_a_second_postmortem(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    with pytest.raises(PostmortemConflict, match="already has a postmortem"):
        postmortem_start(incident=incident, actor=floor.dave, via="api")
    assert Postmortem.objects.count() == 1


def test_it_records_which_fields_an_edit_changed(floor, incident):
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    postmortem = postmortem_update(
        postmortem=postmortem,
        actor=floor.dave,
        via="api",
        summary=" Replication stalled. ",
        root_cause="A long transaction.",
        impact_services="ledger-db",  # unchanged
    )
    assert postmortem.summary == "Replication stalled."
    event = incident.events.last()
    assert event.data["fields"] == ["summary", "root_cause"]
    assert event.message == "Postmortem edited by dave: summary, root cause"
    count = incident.events.count()
    postmortem_update(
        postmortem=postmortem, actor=floor.dave, via="api", summary="Replication stalled."
    )
    assert incident.events.count() == count


def test_it_publishes_only_a_complete_postmortem_of_a_resolved_incident(floor, incident):
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    with pytest.raises(PostmortemConflict, match="still triggered"):
        postmortem_publish(postmortem=postmortem, actor=floor.alice, via="web")
    _resolve(incident, floor.alice)
    with pytest.raises(ValidationError) as missing:
        postmortem_publish(postmortem=postmortem, actor=floor.alice, via="web")
    assert set(missing.value.message_dict) == {"summary", "root_cause"}
    postmortem_update(
        postmortem=postmortem, actor=floor.alice, via="web", summary="s", root_cause="r"
    )
    postmortem = postmortem_publish(postmortem=postmortem, actor=floor.manager, via="api")
    assert postmortem.state == "published" and postmortem.published_at is not None
    assert incident.events.last().message == "Postmortem published by manager"
    with pytest.raises(PostmortemConflict, match="already published"):
        postmortem_publish(postmortem=postmortem, actor=floor.alice, via="web")
    with pytest.raises(PostmortemConflict, match="published"):
        postmortem_update(postmortem=postmortem, actor=floor.alice, via="web", summary="new")


def test_action_items_stay_open_after_publishing(floor, incident):
    postmortem = _published(incident, floor.alice)
    item = action_item_add(
        postmortem=postmortem,
        title="Alert on long transactions",
        owner=floor.paul,  # the fix may belong to a team outside the IOC
        due_date=date(2024, 6, 1),
        actor=floor.alice,
        via="web",
    )
    assert "owner paul, due 2024-06-01" in incident.events.last().message
    item = action_item_set_done(item=item, done=True, actor=floor.paul, via="api")
    assert item.done
    assert incident.events.last().data["action"] == "action_item_done"
    with pytest.raises(ValidationError):
        action_item_add(postmortem=postmortem, title=" ", actor=floor.alice, via="web")


@pytest.mark.parametrize(
    ("severity", "major"), [("SEV1", True), ("SEV2", True), ("SEV3", False), ("SEV4", False)]
)
def test_a_major_incident_needs_a_published_postmortem_to_close(floor, severity, major):
    incident = incident_open(team=floor.first_line, title="Outage", severity=severity)
    reason = postmortem_blocks_close(incident=incident)
    if not major:
        assert reason is None
        return
    assert reason.startswith(f"{severity} incidents need a published postmortem")
    assert "none has been started" in reason
    incident = _resolve(incident, floor.alice)
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    assert "still a draft" in postmortem_blocks_close(incident=incident)
    postmortem_update(
        postmortem=postmortem, actor=floor.alice, via="web", summary="s", root_cause="r"
    )
    postmortem_publish(postmortem=postmortem, actor=floor.alice, via="web")
    assert postmortem_blocks_close(incident=incident) is None


def test_it_formats_times_and_durations():
    assert utc_iso(datetime(2024, 5, 1, 12, 0, 5, 123, tzinfo=UTC)) == "2024-05-01T12:00:05Z"
    assert duration_text(timedelta(seconds=30)) == "0 min"
    assert duration_text(timedelta(hours=1, minutes=23)) == "1 h 23 min"
    assert duration_text(timedelta(days=2, hours=3)) == "2 d 3 h"


# --- the Markdown export -------------------------------------------------------------------


def test_the_markdown_export_holds_the_whole_document(floor, settings):
    settings.TIME_ZONE = "Europe/Amsterdam"  # the export is in UTC whatever the floor's zone
    incident = incident_open(
        team=floor.first_line, title="Ledger down", severity="SEV1", service="ledger", at=OPENED
    )
    checklist_item_add(incident=incident, title="Page the DBA", actor=floor.alice, via="web")
    incident = _resolve(incident)
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    postmortem_update(
        postmortem=postmortem,
        actor=floor.alice,
        via="web",
        summary="The ledger database stopped accepting writes.",
        impact_customers="All card payments for 40 minutes.",
        impact_duration="40 min",
        root_cause="The disk filled with WAL files.",
        contributing_factors="No alert on WAL growth.\nRetention set by hand.",
    )
    open_item = action_item_add(
        postmortem=postmortem,
        title="Alert on WAL growth",
        owner=floor.dave,
        due_date=date(2024, 6, 1),
        actor=floor.alice,
        via="web",
    )
    done_item = action_item_add(
        postmortem=postmortem, title="Raise the disk", actor=floor.alice, via="web"
    )
    action_item_set_done(item=done_item, done=True, actor=floor.alice, via="web")
    postmortem.refresh_from_db()

    markdown = postmortem_markdown(postmortem=postmortem)

    assert markdown.startswith(f"# Postmortem: #{incident.number} Ledger down\n")
    assert "- Severity: SEV1" in markdown
    assert "- Opened: 2024-05-01T10:00:00Z" in markdown
    assert "- Postmortem: draft" in markdown
    assert "## Summary\n\nThe ledger database stopped accepting writes.\n" in markdown
    assert "- Customers affected: All card payments for 40 minutes." in markdown
    assert "- Duration: 40 min" in markdown
    assert "- Services affected: ledger" in markdown
    assert "## Timeline (UTC)" in markdown
    assert "- 2024-05-01T10:00:00Z Opened as SEV1 for First line (system)" in markdown
    assert "Checklist item added by alice: Page the DBA (alice via web)" in markdown
    assert "Resolved by the system" in markdown
    assert "Postmortem started" not in markdown  # the document's own edits stay out
    assert "## Root cause\n\nThe disk filled with WAL files.\n" in markdown
    assert "No alert on WAL growth.\nRetention set by hand." in markdown
    assert "- [ ] Alert on WAL growth (owner: dave, due: 2024-06-01)" in markdown
    assert "- [x] Raise the disk (owner: unassigned)" in markdown
    sections = ["Summary", "Impact", "Timeline (UTC)", "Root cause", "Contributing factors"]
    positions = [markdown.index(f"## {name}") for name in [*sections, "Action items"]]
    assert positions == sorted(positions)
    assert open_item.pk


def test_an_empty_draft_exports_with_placeholders(floor, incident):
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    markdown = postmortem_markdown(postmortem=postmortem)
    assert "## Root cause\n\n_Not written yet._" in markdown
    assert "## Action items\n\n_None._" in markdown


# --- REST API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", "postmortem/"),
        ("post", "postmortem/"),
        ("patch", "postmortem/"),
        ("post", "postmortem/publish/"),
        ("get", "postmortem/action_items/"),
        ("post", "postmortem/action_items/"),
        ("get", "postmortem.md"),
    ],
)
def test_the_api_answers_401_without_a_token(incident, method, suffix):
    response = getattr(Client(), method)(
        f"/api/v1/incidents/{incident.pk}/{suffix}", content_type="application/json"
    )
    assert response.status_code == 401
    assert "error" in response.json()


def test_the_api_runs_the_whole_postmortem(floor, incident):
    api = api_client_for(floor.alice)
    base = f"/api/v1/incidents/{incident.pk}/postmortem/"
    missing = api.get(base)
    assert missing.status_code == 404
    assert missing.json()["error"] == "no postmortem for this incident"

    started = api.post(base)
    assert started.status_code == 201
    body = started.json()
    assert body["state"] == "draft" and body["incident"] == incident.number
    assert body["blocks_close"].startswith("SEV2 incidents need a published postmortem")
    assert body["timeline"][0]["kind"] == "opened"
    assert api.post(base).status_code == 409

    edited = api.patch(
        base, {"summary": "Stalled.", "impact_customers": "None"}, content_type="application/json"
    )
    assert edited.status_code == 200
    assert edited.json()["summary"] == "Stalled."
    assert api.patch(base, {}, content_type="application/json").status_code == 400

    early = api.post(base + "publish/")
    assert early.status_code == 409
    assert "resolve it" in early.json()["error"]
    _resolve(incident, floor.alice)
    incomplete = api.post(base + "publish/")
    assert incomplete.status_code == 400
    assert "root_cause" in incomplete.json()["fields"]
    api.patch(base, {"root_cause": "Long transaction."}, content_type="application/json")
    published = api.post(base + "publish/")
    assert published.status_code == 200
    assert published.json()["state"] == "published"
    assert published.json()["blocks_close"] is None
    assert api.patch(base, {"summary": "x"}, content_type="application/json").status_code == 409

    item = api.post(
        base + "action_items/",
        {"title": "Alert on long transactions", "owner": "dave", "due_date": "2024-06-01"},
        content_type="application/json",
    )
    assert item.status_code == 201
    assert item.json() == {
        "id": item.json()["id"],
        "title": "Alert on long transactions",
        "owner": "dave",
        "due_date": "2024-06-01",
        "done": False,
    }
    ticked = api.patch(
        base + f"action_items/{item.json()['id']}/", {"done": True}, content_type="application/json"
    )
    assert ticked.status_code == 200 and ticked.json()["done"] is True
    assert api.get(base + "action_items/").json()["results"][0]["done"] is True
    assert {e.via for e in incident.events.filter(kind="postmortem")} == {"api"}


def test_the_api_exports_markdown(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    response = api_client_for(floor.olga).get(f"/api/v1/incidents/{incident.pk}/postmortem.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content.decode().startswith(f"# Postmortem: #{incident.number}")


def test_the_api_lets_an_observer_read_but_not_write(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    api = api_client_for(floor.olga)
    base = f"/api/v1/incidents/{incident.pk}/postmortem/"
    assert api.get(base).status_code == 200
    refused = api.patch(base, {"summary": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert "error" in refused.json()
    assert api.post(base + "publish/").status_code == 403
    assert api.post(base + "action_items/", {"title": "x"}).status_code == 403


def test_the_api_hides_other_teams_postmortems_with_404(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    api = api_client_for(floor.paul)
    base = f"/api/v1/incidents/{incident.pk}/postmortem/"
    assert api.get(base).status_code == 404
    assert api.post(base).status_code == 404
    assert api.get(f"/api/v1/incidents/{incident.pk}/postmortem.md").status_code == 404


# --- browser (htmx) ------------------------------------------------------------------------


def test_the_page_offers_to_start_a_required_postmortem(floor, incident):
    response = floor.client_for(floor.alice).get(f"/incidents/{incident.pk}/postmortem/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" in content
    assert "none has been started" in content
    assert f'hx-post="/incidents/{incident.pk}/postmortem/start/"' in content


def test_the_web_starts_edits_and_publishes(floor, incident):
    client = floor.client_for(floor.alice)
    base = f"/incidents/{incident.pk}/postmortem/"
    started = client.post(base + "start/", HTTP_HX_REQUEST="true")
    assert started.status_code == 200
    assert "<html" not in started.content.decode()
    assert b'id="postmortem"' in started.content
    assert b'name="root_cause"' in started.content

    saved = client.post(
        base + "save/",
        {"summary": "Stalled.", "root_cause": "Long transaction."},
        HTTP_HX_REQUEST="true",
    )
    assert saved.status_code == 200
    postmortem = Postmortem.objects.get()
    assert (postmortem.summary, postmortem.root_cause) == ("Stalled.", "Long transaction.")
    assert postmortem.impact_services == "ledger-db"  # not in the form post: left alone

    refused = client.post(base + "publish/", HTTP_HX_REQUEST="true")
    assert refused.status_code == 409
    assert b"resolve it before publishing" in refused.content
    _resolve(incident, floor.alice)
    published = client.post(base + "publish/", HTTP_HX_REQUEST="true")
    assert published.status_code == 200
    assert b"Published." in published.content
    assert b'name="root_cause"' not in published.content  # the text is frozen
    event = incident.events.filter(kind="postmortem").last()
    assert (event.actor, event.via, event.data["action"]) == (floor.alice, "web", "published")


def test_the_web_shows_why_an_edit_was_refused(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    response = floor.client_for(floor.alice).post(
        f"/incidents/{incident.pk}/postmortem/save/",
        {"impact_duration": "x" * 201, "summary": "kept in the form"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert b"At most 200 characters." in response.content
    assert b"kept in the form" in response.content


def test_the_web_adds_and_ticks_action_items(floor, incident):
    client = floor.client_for(floor.dave)
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    base = f"/incidents/{incident.pk}/postmortem/action_items/"
    added = client.post(
        base,
        {"title": "Alert on WAL", "owner": str(floor.alice.pk), "due_date": "2024-06-01"},
        HTTP_HX_REQUEST="true",
    )
    assert added.status_code == 200
    item = postmortem.action_items.get()
    assert (item.owner, item.due_date) == (floor.alice, date(2024, 6, 1))
    bad_date = client.post(base, {"title": "x", "due_date": "soon"}, HTTP_HX_REQUEST="true")
    assert bad_date.status_code == 400
    assert b"due date" in bad_date.content
    ticked = client.post(f"{base}{item.pk}/done/", {"done": "1"}, HTTP_HX_REQUEST="true")
    assert ticked.status_code == 200
    item.refresh_from_db()
    assert item.done


def test_the_web_downloads_the_markdown(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    response = floor.client_for(floor.olga).get(f"/incidents/{incident.pk}/postmortem.md")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert (
        response["Content-Disposition"] == f'attachment; filename="postmortem-{incident.number}.md"'
    )
    assert b"## Timeline (UTC)" in response.content


def test_the_web_lets_an_observer_read_but_not_write(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    client = floor.client_for(floor.olga)
    page = client.get(f"/incidents/{incident.pk}/postmortem/")
    assert page.status_code == 200
    assert b"hx-post" not in page.content
    for action in ("start/", "save/", "publish/", "action_items/"):
        assert client.post(f"/incidents/{incident.pk}/postmortem/{action}").status_code == 403


def test_the_web_hides_other_teams_postmortems(floor, incident):
    client = floor.client_for(floor.paul)
    assert client.get(f"/incidents/{incident.pk}/postmortem/").status_code == 404
    assert client.post(f"/incidents/{incident.pk}/postmortem/start/").status_code == 404
    assert client.get(f"/incidents/{incident.pk}/postmortem.md").status_code == 404


def test_the_web_needs_a_login_post_and_csrf(floor, incident):
    start = f"/incidents/{incident.pk}/postmortem/start/"
    assert Client().get(f"/incidents/{incident.pk}/postmortem/").status_code == 302
    assert Client().post(start).status_code == 302
    assert floor.client_for(floor.alice).get(start).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(floor.alice)
    assert client.post(start).status_code == 403
    token = client.get(f"/incidents/{incident.pk}/postmortem/").cookies["csrftoken"].value
    assert client.post(start, HTTP_X_CSRFTOKEN=token).status_code == 200
    assert Postmortem.objects.filter(incident=incident).exists()


# --- admin ---------------------------------------------------------------------------------


def test_the_admin_edits_through_the_services(floor, incident):
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    client = floor.client_for(floor.admin)
    url = f"/admin/incidents/postmortem/{postmortem.pk}/change/"
    assert client.get(url).status_code == 200
    form = {
        "summary": "Edited in the admin",
        "impact_customers": "",
        "impact_duration": "",
        "impact_services": "ledger-db",
        "root_cause": "",
        "contributing_factors": "",
        "action_items-TOTAL_FORMS": "1",
        "action_items-INITIAL_FORMS": "0",
        "action_items-MIN_NUM_FORMS": "0",
        "action_items-MAX_NUM_FORMS": "1000",
        "action_items-0-title": "Added in the admin",
        "action_items-0-owner": str(floor.dave.pk),
        "action_items-0-due_date": "",
        "action_items-0-done": "on",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    postmortem.refresh_from_db()
    assert postmortem.summary == "Edited in the admin"
    item = postmortem.action_items.get()
    assert (item.title, item.owner, item.done) == ("Added in the admin", floor.dave, True)
    events = incident.events.filter(kind="postmortem", via="admin")
    assert [e.data["action"] for e in events] == ["edited", "action_item_added", "action_item_done"]
    assert all(e.actor == floor.admin for e in events)


def test_the_admin_publishes_through_the_service(floor, incident):
    postmortem = postmortem_start(incident=incident, actor=floor.alice, via="web")
    client = floor.client_for(floor.admin)
    changelist = "/admin/incidents/postmortem/"
    action = {"action": "publish", "_selected_action": [str(postmortem.pk)]}
    refused = client.post(changelist, action, follow=True)
    assert b"resolve it before publishing" in refused.content
    _resolve(incident, floor.alice)
    postmortem_update(
        postmortem=postmortem, actor=floor.alice, via="web", summary="s", root_cause="r"
    )
    client.post(changelist, action, follow=True)
    postmortem.refresh_from_db()
    assert postmortem.state == "published"
    assert incident.events.last().via == "admin"
    page = client.get(f"/admin/incidents/postmortem/{postmortem.pk}/change/").content.decode()
    assert 'name="summary"' not in page  # published text is read-only
    assert client.get("/admin/incidents/postmortem/add/").status_code == 403
