"""/api/v1/silences/, /api/v1/maintenance-windows/ and /api/v1/inhibit-rules/: CRUD, validation,
who may do what, and the admin LogEntry each change leaves."""

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.test import Client
from django.utils import timezone

from alerts.models import InhibitRule, MaintenanceWindow, Silence
from tests.base import api_client_for

pytestmark = pytest.mark.django_db

DB01 = [{"field": "source", "op": "=", "value": "db01"}]


def send(client, method: str, url: str, body=None):
    call = getattr(client, method)
    if body is None:
        return call(url)
    return call(url, data=json.dumps(body), content_type="application/json")


def log_for(obj) -> list[tuple[str, int, str]]:
    entries = LogEntry.objects.filter(
        object_id=str(obj.pk), content_type__model=obj._meta.model_name
    ).order_by("id")
    return [(e.user.get_username(), e.action_flag, e.change_message) for e in entries]


def silence_body(**overrides) -> dict:
    return {"matchers": DB01, "duration_minutes": 60, "comment": "db01 disk swap", **overrides}


class TestSilences:
    URL = "/api/v1/silences/"

    def test_it_lets_a_floor_member_silence(self, floor):
        response = send(api_client_for(floor.alice), "post", self.URL, silence_body())
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["state"] == "active" and data["created_by"] == "alice"
        assert data["matchers"] == DB01 and data["comment"] == "db01 disk swap"
        silence = Silence.objects.get(pk=data["id"])
        assert silence.ends_at - silence.starts_at == timedelta(minutes=60)
        assert log_for(silence)[0][:2] == ("alice", ADDITION)
        assert "via api" in log_for(silence)[0][2]

    def test_it_takes_an_explicit_span(self, floor):
        starts = timezone.now() + timedelta(hours=1)
        body = silence_body(
            starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat()
        )
        del body["duration_minutes"]
        response = send(api_client_for(floor.manager), "post", self.URL, body)
        assert response.status_code == 201, response.content
        assert response.json()["state"] == "upcoming"

    @pytest.mark.parametrize("who", ["olga", "paul"])
    def test_it_refuses_observers_and_outsiders(self, floor, who):
        response = send(api_client_for(getattr(floor, who)), "post", self.URL, silence_body())
        assert response.status_code == 403
        assert not Silence.objects.exists()

    def test_it_refuses_anonymous_callers(self, floor):
        assert send(Client(), "get", self.URL).status_code == 401
        assert send(Client(), "post", self.URL, silence_body()).status_code == 401

    @pytest.mark.parametrize(
        ("overrides", "field", "words"),
        [
            ({"matchers": [{"field": "source", "op": "==", "value": "x"}]}, "matchers", "op"),
            ({"matchers": []}, "matchers", "at least one matcher"),
            ({"matchers": [{"field": "labels.env", "op": "!=", "value": "x"}]}, "matchers", "all"),
            ({"comment": ""}, "comment", "required"),
            ({"ends_at": "2030-01-01T00:00:00Z"}, "ends_at", "either"),
            ({"duration_minutes": 0}, "duration_minutes", "greater"),
        ],
    )
    def test_it_refuses_bad_input_with_the_field(self, floor, overrides, field, words):
        response = send(api_client_for(floor.alice), "post", self.URL, silence_body(**overrides))
        assert response.status_code == 400, response.content
        assert words in json.dumps(response.json()["fields"][field])
        assert not Silence.objects.exists()

    def test_it_refuses_an_end_before_the_start(self, floor):
        now = timezone.now()
        body = silence_body(
            starts_at=now.isoformat(), ends_at=(now - timedelta(hours=1)).isoformat()
        )
        del body["duration_minutes"]
        response = send(api_client_for(floor.alice), "post", self.URL, body)
        assert response.status_code == 400
        assert "after the start" in response.json()["fields"]["ends_at"][0]

    def test_it_lists_active_and_recent_silences(self, floor):
        client = api_client_for(floor.alice)
        ids = [send(client, "post", self.URL, silence_body()).json()["id"] for _ in range(2)]
        old = Silence.objects.create(
            matchers=DB01,
            starts_at=timezone.now() - timedelta(days=3),
            ends_at=timezone.now() - timedelta(days=2),
            comment="long over",
        )
        response = send(api_client_for(floor.paul), "get", self.URL)
        assert response.status_code == 200
        listed = [row["id"] for row in response.json()["results"]]
        assert sorted(listed) == sorted(ids) and old.pk not in listed

    def test_it_expires_a_silence_on_delete(self, floor):
        created = send(api_client_for(floor.alice), "post", self.URL, silence_body()).json()
        url = f"{self.URL}{created['id']}/"
        response = send(api_client_for(floor.dave), "delete", url)
        assert response.status_code == 200
        assert response.json()["state"] == "expired"
        silence = Silence.objects.get(pk=created["id"])
        assert silence.ends_at <= timezone.now()
        assert log_for(silence)[1] == ("dave", CHANGE, "Expired via api")
        assert send(api_client_for(floor.alice), "get", url).json()["state"] == "expired"

    def test_it_refuses_expiry_to_observers(self, floor):
        created = send(api_client_for(floor.alice), "post", self.URL, silence_body()).json()
        response = send(api_client_for(floor.olga), "delete", f"{self.URL}{created['id']}/")
        assert response.status_code == 403
        assert Silence.objects.get(pk=created["id"]).ends_at > timezone.now()

    def test_it_answers_404_for_an_unknown_silence(self, floor):
        assert send(api_client_for(floor.alice), "get", f"{self.URL}999999/").status_code == 404
        assert send(api_client_for(floor.alice), "delete", f"{self.URL}999999/").status_code == 404


def weekly_body(**overrides) -> dict:
    return {
        "name": "Sunday patching",
        "matchers": [{"field": "labels.env", "op": "=", "value": "prod"}],
        "reason": "OS patches, CHG-1",
        "time_zone": "Europe/Berlin",
        "weekdays": [6],
        "start_time": "02:00",
        "duration_minutes": 240,
        **overrides,
    }


class TestMaintenanceWindows:
    URL = "/api/v1/maintenance-windows/"

    def test_it_creates_a_weekly_window_with_its_next_occurrences(self, floor):
        response = send(api_client_for(floor.manager), "post", self.URL, weekly_body())
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["kind"] == "weekly" and data["start_time"] == "02:00"
        assert data["created_by"] == "manager"
        assert len(data["next_occurrences"]) == 3
        first = data["next_occurrences"][0]
        assert set(first) == {"starts_at", "ends_at"}
        window = MaintenanceWindow.objects.get(pk=data["id"])
        assert log_for(window) == [("manager", ADDITION, "Created via api")]

    def test_it_creates_a_one_off_window(self, floor):
        starts = timezone.now() - timedelta(minutes=5)
        body = {
            "name": "db01 disk swap",
            "matchers": DB01,
            "reason": "CHG-2",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
        }
        response = send(api_client_for(floor.admin), "post", self.URL, body)
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["kind"] == "one_off" and data["active"] is True
        assert len(data["next_occurrences"]) == 1

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"time_zone": "Europe/Atlantis"}, "time_zone"),
            ({"weekdays": []}, "weekdays"),
            ({"weekdays": [7]}, "weekdays"),
            ({"start_time": None}, "start_time"),
            ({"duration_minutes": 0}, "duration_minutes"),
            ({"reason": ""}, "reason"),
            ({"matchers": [{"field": "nope", "op": "=", "value": "x"}]}, "matchers"),
            ({"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00:00Z"}, "weekdays"),
        ],
    )
    def test_it_refuses_bad_windows_with_the_field(self, floor, overrides, field):
        response = send(api_client_for(floor.manager), "post", self.URL, weekly_body(**overrides))
        assert response.status_code == 400, response.content
        assert field in response.json()["fields"]
        assert not MaintenanceWindow.objects.exists()

    def test_it_lets_only_managers_change_windows(self, floor):
        assert send(api_client_for(floor.alice), "post", self.URL, weekly_body()).status_code == 403
        created = send(api_client_for(floor.manager), "post", self.URL, weekly_body()).json()
        url = f"{self.URL}{created['id']}/"
        assert send(api_client_for(floor.alice), "get", url).status_code == 200
        assert send(api_client_for(floor.alice), "patch", url, {"name": "x"}).status_code == 403
        assert send(api_client_for(floor.alice), "delete", url).status_code == 403
        assert send(Client(), "get", url).status_code == 401

    def test_it_updates_a_window_and_records_what_changed(self, floor):
        client = api_client_for(floor.manager)
        created = send(client, "post", self.URL, weekly_body()).json()
        url = f"{self.URL}{created['id']}/"
        response = send(client, "patch", url, {"duration_minutes": 60, "weekdays": [5, 6]})
        assert response.status_code == 200, response.content
        assert response.json()["weekdays"] == [5, 6]
        assert response.json()["duration_minutes"] == 60
        window = MaintenanceWindow.objects.get(pk=created["id"])
        assert log_for(window)[-1] == (
            "manager",
            CHANGE,
            "Changed weekdays, duration_minutes via api",
        )

    def test_it_replaces_a_window_on_put(self, floor):
        client = api_client_for(floor.manager)
        created = send(client, "post", self.URL, weekly_body()).json()
        starts = timezone.now() + timedelta(days=1)
        body = {
            "name": "Moved to a one-off",
            "matchers": DB01,
            "reason": "CHG-3",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
        }
        response = send(client, "put", f"{self.URL}{created['id']}/", body)
        assert response.status_code == 200, response.content
        data = response.json()
        assert data["kind"] == "one_off" and data["weekdays"] == [] and data["time_zone"] == "UTC"

    def test_it_refuses_an_invalid_update(self, floor):
        client = api_client_for(floor.manager)
        created = send(client, "post", self.URL, weekly_body()).json()
        url = f"{self.URL}{created['id']}/"
        response = send(client, "patch", url, {"time_zone": "Nowhere/Else"})
        assert response.status_code == 400
        assert MaintenanceWindow.objects.get(pk=created["id"]).time_zone == "Europe/Berlin"

    def test_it_deletes_a_window_and_keeps_the_record(self, floor):
        client = api_client_for(floor.manager)
        created = send(client, "post", self.URL, weekly_body()).json()
        assert send(client, "delete", f"{self.URL}{created['id']}/").status_code == 204
        assert not MaintenanceWindow.objects.exists()
        entry = LogEntry.objects.get(object_id=str(created["id"]), action_flag=DELETION)
        assert (entry.user, entry.change_message) == (floor.manager, "Deleted via api")
        assert entry.object_repr == "Sunday patching"


def rule_body(**overrides) -> dict:
    return {
        "name": "node down mutes its services",
        "source_matchers": [{"field": "name", "op": "=", "value": "NodeDown"}],
        "target_matchers": [{"field": "severity", "op": "=~", "value": "high|warning"}],
        "equal": ["cluster"],
        **overrides,
    }


class TestInhibitRules:
    URL = "/api/v1/inhibit-rules/"

    def test_it_creates_reads_updates_and_deletes_a_rule(self, floor):
        client = api_client_for(floor.manager)
        response = send(client, "post", self.URL, rule_body(equal=["labels.cluster", "cluster"]))
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["equal"] == ["cluster"] and data["enabled"] is True
        url = f"{self.URL}{data['id']}/"
        assert send(api_client_for(floor.alice), "get", url).json()["name"] == data["name"]
        listed = send(api_client_for(floor.alice), "get", self.URL).json()["results"]
        assert [row["id"] for row in listed] == [data["id"]]
        assert send(client, "patch", url, {"enabled": False}).json()["enabled"] is False
        assert send(client, "delete", url).status_code == 204
        assert [flag for _, flag, _ in log_for(InhibitRule(pk=data["id"]))] == [
            ADDITION,
            CHANGE,
            DELETION,
        ]

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"source_matchers": []}, "source_matchers"),
            ({"target_matchers": [{"field": "name", "op": "=~", "value": "("}]}, "target_matchers"),
            ({"equal": [""]}, "equal"),
            ({"name": ""}, "name"),
        ],
    )
    def test_it_refuses_bad_rules_with_the_field(self, floor, overrides, field):
        response = send(api_client_for(floor.manager), "post", self.URL, rule_body(**overrides))
        assert response.status_code == 400, response.content
        assert field in response.json()["fields"]

    def test_it_lets_only_managers_change_rules(self, floor):
        assert send(api_client_for(floor.alice), "post", self.URL, rule_body()).status_code == 403
        assert send(Client(), "get", self.URL).status_code == 401


class TestAdmin:
    """The admin writes its own LogEntry; the forms run the services' checks."""

    def test_it_records_the_admin_as_creator_and_in_the_history(self, floor):
        client = floor.client_for(floor.admin)
        ends = timezone.now() + timedelta(hours=1)
        response = client.post(
            "/admin/alerts/silence/add/",
            {
                "matchers": json.dumps(DB01),
                "starts_at_0": timezone.now().strftime("%Y-%m-%d"),
                "starts_at_1": timezone.now().strftime("%H:%M:%S"),
                "ends_at_0": ends.strftime("%Y-%m-%d"),
                "ends_at_1": ends.strftime("%H:%M:%S"),
                "comment": "from the admin",
            },
        )
        assert response.status_code == 302, response.content.decode()[-2000:]
        silence = Silence.objects.get()
        assert silence.created_by == floor.admin
        assert log_for(silence)[0][:2] == ("admin", ADDITION)

    def test_it_refuses_a_catch_all_window_in_the_admin(self, floor):
        client = floor.client_for(floor.admin)
        response = client.post(
            "/admin/alerts/maintenancewindow/add/",
            {
                "name": "everything",
                "matchers": json.dumps([{"field": "labels.env", "op": "!=", "value": "prod"}]),
                "reason": "oops",
                "enabled": "on",
                "time_zone": "Europe/Berlin",
                "weekdays": "[6]",
                "start_time": "02:00",
                "duration_minutes": "60",
            },
        )
        assert response.status_code == 200
        assert "almost everything" in response.content.decode()
        assert not MaintenanceWindow.objects.exists()

    def test_it_expires_silences_from_the_admin_action(self, floor):
        silence = send(api_client_for(floor.alice), "post", "/api/v1/silences/", silence_body())
        pk = silence.json()["id"]
        response = floor.client_for(floor.admin).post(
            "/admin/alerts/silence/", {"action": "expire", "_selected_action": [pk]}
        )
        assert response.status_code == 302
        assert Silence.objects.get(pk=pk).ends_at <= timezone.now()
        assert log_for(Silence(pk=pk))[-1] == ("admin", CHANGE, "Expired via admin")

    def test_it_saves_a_one_off_window_from_the_admin(self, floor):
        starts = timezone.now()
        ends = starts + timedelta(hours=2)
        response = floor.client_for(floor.admin).post(
            "/admin/alerts/maintenancewindow/add/",
            {
                "name": "db01 disk swap",
                "matchers": json.dumps(DB01),
                "reason": "CHG-4",
                "enabled": "on",
                "time_zone": "UTC",
                "starts_at_0": starts.strftime("%Y-%m-%d"),
                "starts_at_1": starts.strftime("%H:%M:%S"),
                "ends_at_0": ends.strftime("%Y-%m-%d"),
                "ends_at_1": ends.strftime("%H:%M:%S"),
                "weekdays": "",
                "start_time": "",
                "duration_minutes": "0",
            },
        )
        assert response.status_code == 302, response.content.decode()[-3000:]
        window = MaintenanceWindow.objects.get()
        assert window.weekdays == [] and window.created_by == floor.admin
        assert log_for(window)[0][:2] == ("admin", ADDITION)
