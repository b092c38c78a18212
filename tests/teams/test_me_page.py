"""A person manages how IOC reaches them, in the browser."""

from django.test import Client

from teams.models import ContactMethod, NotificationRule


def test_it_needs_a_login(db):
    response = Client().get("/me/notifications/")
    assert response.status_code == 302


def test_a_person_adds_methods_and_rules_and_sees_the_plan(floor):
    client = floor.client_for(floor.alice)
    assert client.get("/me/notifications/").status_code == 200
    response = client.post(
        "/me/notifications/methods/",
        {"kind": "email", "address": "alice@example.org", "label": "work"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    client.post(
        "/me/notifications/methods/",
        {"kind": "sms", "address": "+4915112345678"},
        HTTP_HX_REQUEST="true",
    )
    sms = ContactMethod.objects.get(user=floor.alice, kind="sms")
    response = client.post(
        "/me/notifications/rules/",
        {"contact_method": sms.pk, "delay_minutes": "5", "urgency": "high"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    rule = NotificationRule.objects.get(user=floor.alice)
    assert (rule.delay_minutes, rule.urgency) == (5, "high")
    assert b"after 5 min: SMS" in response.content


def test_a_bad_address_is_refused_with_the_reason(floor):
    client = floor.client_for(floor.alice)
    response = client.post(
        "/me/notifications/methods/", {"kind": "sms", "address": "call me"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b"address" in response.content
    assert not ContactMethod.objects.exists()


def test_nobody_touches_someone_elses_methods(floor):
    method = ContactMethod.objects.create(user=floor.dave, kind="email", address="d@x.org")
    client = floor.client_for(floor.alice)
    assert client.post(f"/me/notifications/methods/{method.pk}/delete/").status_code == 404
    assert client.post("/me/notifications/rules/", {"contact_method": method.pk}).status_code == 400
    assert ContactMethod.objects.filter(pk=method.pk).exists()
    assert not NotificationRule.objects.exists()


def test_removing_a_method_removes_its_rules(floor):
    client = floor.client_for(floor.alice)
    client.post("/me/notifications/methods/", {"kind": "email", "address": "a@x.org"})
    method = ContactMethod.objects.get()
    client.post("/me/notifications/rules/", {"contact_method": method.pk, "delay_minutes": "0"})
    assert client.post(f"/me/notifications/methods/{method.pk}/delete/").status_code == 200
    assert not ContactMethod.objects.exists()
    assert not NotificationRule.objects.exists()
