"""The admin pages for schedules, layers, overrides, contact methods and rules load and save."""

from datetime import timedelta

from teams.models import ScheduleOverride
from teams.services import contact_method_create, notification_rule_create, schedule_override_create


def test_it_loads_every_schedule_admin_page(floor, schedule, midnight):
    override = schedule_override_create(
        schedule=schedule, user=floor.alice, start=midnight, end=midnight + timedelta(days=1)
    )
    method = contact_method_create(user=floor.alice, kind="email", address="a@example.org")
    rule = notification_rule_create(user=floor.alice, contact_method=method, delay_minutes=2)
    layer = schedule.layers.get()
    admin = floor.client_for(floor.admin)
    for url in [
        f"/admin/teams/schedule/{schedule.pk}/change/",
        f"/admin/teams/schedulelayer/{layer.pk}/change/",
        f"/admin/teams/scheduleoverride/{override.pk}/change/",
        f"/admin/teams/contactmethod/{method.pk}/change/",
        f"/admin/teams/notificationrule/{rule.pk}/change/",
        "/admin/teams/schedule/add/",
        "/admin/teams/scheduleoverride/?q=alice",
    ]:
        assert admin.get(url).status_code == 200, url
    page = admin.get(f"/admin/teams/schedule/{schedule.pk}/change/").content.decode()
    assert "daily" in page and "Schedule overrides" in page


def test_it_records_who_added_an_override_in_the_admin(floor, schedule, midnight):
    response = floor.client_for(floor.admin).post(
        "/admin/teams/scheduleoverride/add/",
        {
            "schedule": schedule.pk,
            "user": floor.alice.pk,
            "start_0": midnight.strftime("%Y-%m-%d"),
            "start_1": "10:00:00",
            "end_0": midnight.strftime("%Y-%m-%d"),
            "end_1": "12:00:00",
            "reason": "by hand",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ScheduleOverride.objects.get().created_by == floor.admin


def test_it_refuses_a_rule_on_someone_elses_method_in_the_admin(floor):
    theirs = contact_method_create(user=floor.manager, kind="in_app")
    response = floor.client_for(floor.admin).post(
        "/admin/teams/notificationrule/add/",
        {
            "user": floor.alice.pk,
            "contact_method": theirs.pk,
            "delay_minutes": 0,
            "urgency": "all",
            "position": 0,
        },
    )
    assert response.status_code == 200
    assert "own methods" in response.content.decode()
