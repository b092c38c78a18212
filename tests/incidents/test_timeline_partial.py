"""The incident page and the postmortem page render the timeline from one partial
(templates/incidents/_timeline.html): the same list on both, user text escaped."""

import re

import pytest

from incidents.models import Incident
from incidents.postmortems import postmortem_start
from incidents.updates import incident_add_note
from tests.base import post_alert, process

NOTE = "<script>alert(1)</script> & friends"


@pytest.fixture
def incident(client, floor) -> Incident:
    post_alert(client, floor.token, {"summary": "Link down on core-sw-1", "severity": "high"})
    process()
    incident = Incident.objects.get()
    incident_add_note(incident_id=incident.pk, body=NOTE, actor=floor.alice, via="web")
    return incident


def _timeline(content: str) -> str:
    found = re.search(r'<ol class="timeline">.*?</ol>', content, re.S)
    assert found, "no timeline on the page"
    return re.sub(r">\s+<", "><", " ".join(found.group(0).split()))


def test_both_pages_show_the_same_escaped_timeline(floor, incident):
    postmortem_start(incident=incident, actor=floor.alice, via="web")
    client = floor.client_for(floor.alice)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    document = client.get(f"/incidents/{incident.pk}/postmortem/").content.decode()

    on_page = _timeline(page)
    assert NOTE not in page
    assert '<li class="event note"><time datetime="' in on_page  # its kind is its class
    assert (
        '<span class="message">&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends</span>'
        '<span class="muted">alice · Web</span>'
    ) in on_page
    # The postmortem leaves out its own edits ("postmortem" events); the rest is the same list.
    assert _timeline(document) == re.sub(
        r'<li class="event postmortem">.*?</li>', "", on_page, flags=re.S
    )
