"""Ids in query strings and bodies that are not decimal numbers ("²" passes str.isdigit but
int() refuses it) are a client's mistake: 400, never a 500."""

import pytest

from tests.base import api_client_for


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/alerts/?integration=%C2%B2",
        "/api/v1/routes/?integration=%C2%B2",
    ],
)
def test_a_superscript_digit_is_not_an_id(floor, path):
    response = api_client_for(floor.admin).get(path)
    assert response.status_code == 400
    assert "integration" in response.json()["fields"] or "integration" in response.json()


def test_the_route_tester_refuses_a_superscript_integration(floor):
    response = api_client_for(floor.admin).post(
        "/api/v1/routes/test/",
        data={"integration": "²", "alert": {"summary": "x"}},
        content_type="application/json",
    )
    assert response.status_code == 400
