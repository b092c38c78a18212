"""A client's mistake in an id or a number is answered like any other invalid choice, never a
500."""

import pytest

from teams.models import NotificationRule
from teams.services import contact_method_create
from tests.base import api_client_for

# "²" passes str.isdigit() but not int(); a number past bigint reaches the database.
NOT_AN_ID = ["abc", "1.5", "²", "99999999999999999999999"]


@pytest.mark.parametrize("method", NOT_AN_ID)
def test_a_rule_for_a_contact_method_that_is_not_an_id_is_a_form_error(floor, method):
    contact_method_create(user=floor.alice, kind="email", address="alice@example.org", label="")
    response = floor.client_for(floor.alice).post(
        "/me/notifications/rules/", {"contact_method": method, "delay_minutes": "5"}
    )
    assert response.status_code == 400
    assert b"Choose one of your contact methods." in response.content
    assert not NotificationRule.objects.exists()


@pytest.mark.parametrize("days", ["²", "abc", "0"])
def test_a_calendar_for_days_that_are_not_a_number_is_a_400(floor, days):
    response = api_client_for(floor.alice).get(f"/api/v1/users/{floor.alice.pk}/ical?days={days}")
    assert response.status_code == 400
    assert "days" in response.json()["fields"]
