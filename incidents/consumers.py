"""Websocket consumers. They never write: they authenticate, join the groups the user may see,
and render partials for the changes they are told about."""

from asgiref.sync import async_to_sync
from channels.generic.websocket import JsonWebsocketConsumer
from django.template.loader import render_to_string

from teams.models import Team
from teams.selectors import team_ids_visible_to

from .broadcast import group_for_incident, group_for_team, group_for_user
from .models import Incident
from .selectors import incident_detail_context, incident_get_for_user


class _Base(JsonWebsocketConsumer):
    groups_joined: list[str]

    def join(self, group: str) -> None:
        self.groups_joined.append(group)
        async_to_sync(self.channel_layer.group_add)(group, self.channel_name)

    def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def user(self):
        return self.scope.get("user")

    def join_personal_group(self) -> None:
        """In-app notifications for this person reach every page they have open."""
        self.join(group_for_user(self.user().pk))

    def notify_user(self, event):
        incident_id = event.get("incident_id")
        if incident_id is not None and self.visible_incident(incident_id) is None:
            return
        self.send_json(
            {
                "kind": "notify",
                "text": event.get("text", ""),
                "url": event.get("incident_url", ""),
                "severity": event.get("severity", ""),
            }
        )

    def visible_incident(self, incident_id: int) -> Incident | None:
        try:
            return incident_get_for_user(user=self.user(), pk=incident_id)
        except Incident.DoesNotExist:
            return None


class BoardConsumer(_Base):
    def connect(self):
        self.groups_joined = []
        user = self.user()
        if user is None or not user.is_authenticated:
            self.close(code=4401)
            return
        team_ids = team_ids_visible_to(user=user)
        if team_ids is None:
            team_ids = set(Team.objects.values_list("id", flat=True))
        self.accept()
        self.join_personal_group()
        for team_id in sorted(team_ids):
            self.join(group_for_team(team_id))

    def incident_changed(self, event):
        incident = self.visible_incident(event["incident_id"])
        if incident is None:
            # Handed off to a team this user does not see: take it off their board.
            self.send_json({"kind": "board", "id": event["incident_id"], "open": False, "html": ""})
            return
        html = render_to_string("incidents/_incident_row.html", {"incident": incident})
        self.send_json({"kind": "board", "id": incident.pk, "open": incident.is_open, "html": html})


class IncidentConsumer(_Base):
    def connect(self):
        self.groups_joined = []
        user = self.user()
        if user is None or not user.is_authenticated:
            self.close(code=4401)
            return
        self.incident_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if self.visible_incident(self.incident_id) is None:
            self.close(code=4404)
            return
        self.accept()
        self.join_personal_group()
        self.join(group_for_incident(self.incident_id))

    def incident_changed(self, event):
        incident = self.visible_incident(self.incident_id)
        if incident is None:
            return
        html = render_to_string(
            "incidents/_incident_live.html",
            incident_detail_context(incident=incident, user=self.user()),
        )
        self.send_json({"kind": "incident", "id": incident.pk, "html": html})
