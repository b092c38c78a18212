"""The incident page offers the status buttons the transition table allows, and no others."""

import pytest

from incidents.models import Incident
from incidents.selectors import incident_detail_context
from tests.base import post_alert, process


@pytest.mark.parametrize(
    "status, offered",
    [
        ("triggered", ["investigating", "identified", "mitigated"]),
        ("acknowledged", ["investigating", "identified", "mitigated"]),
        ("investigating", ["identified", "mitigated"]),
        ("identified", ["mitigated"]),
        ("mitigated", []),
        ("resolved", []),
        ("closed", []),
    ],
)
def test_the_forward_statuses_follow_the_transition_table(client, floor, status, offered):
    post_alert(client, floor.token, {"summary": "Disk full", "severity": "high"})
    process()
    incident = Incident.objects.get()
    incident.status = status  # only read here: the page's buttons depend on nothing else
    context = incident_detail_context(incident=incident, user=floor.alice)
    assert context["forward_statuses"] == offered
