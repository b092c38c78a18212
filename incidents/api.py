"""The incident API: reads, and every workflow action as a thin POST onto the same services the
browser uses. Not visible: 404; visible but not allowed: 403 (logged); refused by the procedure:
409 with the reason."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from teams.models import Team
from teams.selectors import team_ids_actionable_by, team_ids_visible_to, team_list_visible_to

from . import ownership, services, updates
from .metrics import metrics_for_period
from .models import (
    HandOff,
    Incident,
    IncidentEvent,
    IncidentResponder,
    ResolutionCode,
    Severity,
    Status,
)
from .selectors import (
    incident_get_for_user_or_404,
    incident_list_for_user,
    incident_user_may_act,
)
from .transitions import WorkflowRefused


def username_field():
    return serializers.SlugRelatedField(slug_field="username", read_only=True)


def team_slug_field():
    return serializers.SlugRelatedField(slug_field="slug", read_only=True)


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = username_field()

    class Meta:
        model = IncidentEvent
        fields = ["id", "at", "kind", "actor", "via", "message", "data"]


class HandOffSerializer(serializers.ModelSerializer):
    from_team = team_slug_field()
    to_team = team_slug_field()
    by = username_field()
    accepted_by = username_field()

    class Meta:
        model = HandOff
        fields = ["id", "from_team", "to_team", "reason", "by", "at", "accepted_at", "accepted_by"]


class ResponderSerializer(serializers.ModelSerializer):
    user = username_field()
    team = team_slug_field()
    added_by = username_field()

    class Meta:
        model = IncidentResponder
        fields = ["user", "team", "added_by", "added_at"]


class IncidentSerializer(serializers.ModelSerializer):
    team = team_slug_field()
    acknowledged_by = username_field()
    resolved_by = username_field()
    resolving_team = team_slug_field()
    commander = username_field()
    communications_lead = username_field()
    scribe = username_field()
    declared_by = username_field()
    is_major = serializers.BooleanField(read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "severity",
            "status",
            "team",
            "service",
            "alert_count",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "description",
            "declared_by",
            "is_major",
            "commander",
            "communications_lead",
            "scribe",
            "escalated_outside",
            "resolving_team",
            "resolution_code",
            "resolution_summary",
            "closed_at",
            "merged_into",
            "next_status_update_at",
        ]


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEventSerializer(source="events", many=True, read_only=True)
    hand_offs = HandOffSerializer(many=True, read_only=True)
    responders = ResponderSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "hand_offs", "responders", "timeline"]


def incident_detail_json(incident: Incident) -> dict:
    """The incident as IncidentDetailSerializer answers it, its rows fetched with the people and
    teams they name: one query per list, not one per timeline event, hand-off or responder."""
    prefetch_related_objects(
        [incident],
        Prefetch("events", queryset=IncidentEvent.objects.select_related("actor")),
        Prefetch(
            "hand_offs",
            queryset=HandOff.objects.select_related("from_team", "to_team", "by", "accepted_by"),
        ),
        Prefetch(
            "responders",
            queryset=IncidentResponder.objects.select_related("user", "team", "added_by"),
        ),
    )
    return IncidentDetailSerializer(incident).data


STATUS_FILTERS = {"open", *Status.values}


class DeclareSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500)
    severity = serializers.ChoiceField(choices=Severity.values)
    team = serializers.SlugField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    service = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


def _team_for(slug: str, field: str = "team") -> Team:
    # Any team, not only those the user sees: hand-offs and responders reach outside the IOC.
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise ValidationError({field: f"no team {slug!r}"})
    return team


class IncidentListApi(generics.ListCreateAPIView):
    """GET: incidents you may see. POST: declare one by hand (a phone call, a chat message)."""

    serializer_class = IncidentSerializer

    def get_queryset(self):
        status = self.request.query_params.get("status", "")
        if status and status not in STATUS_FILTERS:
            raise ValidationError(
                {"status": f"must be one of: {', '.join(sorted(STATUS_FILTERS))}"}
            )
        return incident_list_for_user(
            user=self.request.user,
            status=status,
            team_slug=self.request.query_params.get("team", ""),
        ).order_by("-opened_at", "-id")

    def create(self, request, *args, **kwargs):
        form = DeclareSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        team = team_list_visible_to(user=request.user).filter(slug=form.validated_data["team"])
        if not team.exists():
            raise ValidationError({"team": "no such team"})
        allowed = team_ids_actionable_by(user=request.user)
        if allowed is not None and team.get().pk not in allowed:
            raise PermissionDenied("you may not declare incidents for this team")
        try:
            incident = updates.incident_declare(
                team=team.get(),
                title=form.validated_data["title"],
                severity=form.validated_data["severity"],
                description=form.validated_data["description"],
                service=form.validated_data["service"],
                actor=request.user,
                via="api",
            )
        except WorkflowRefused as exc:
            return Response({"error": str(exc)}, status=409)
        return Response(incident_detail_json(incident), status=201)


class IncidentDetailApi(APIView):
    def get(self, request, pk: int):
        incident = incident_get_for_user_or_404(user=request.user, pk=pk)
        return Response(incident_detail_json(incident))


class IncidentActionApi(APIView):
    """A POST that changes an incident: find it (404), check the user may act (403), run the
    action (409 when refused), answer the incident as it now is."""

    status_code = 200

    def perform(self, request, incident: Incident, data: dict) -> None:
        raise NotImplementedError

    def post(self, request, pk: int):
        incident = incident_get_for_user_or_404(user=request.user, pk=pk)
        if not incident_user_may_act(user=request.user, incident=incident):
            raise PermissionDenied("you may not act on this incident")
        data = request.data if isinstance(request.data, dict) else {}
        try:
            self.perform(request, incident, data)
        except WorkflowRefused as exc:
            incident.refresh_from_db()
            return Response({"error": str(exc), "status": incident.status}, status=409)
        incident.refresh_from_db()
        return self.respond(request, incident)

    def respond(self, request, incident: Incident) -> Response:
        return Response(incident_detail_json(incident), status=self.status_code)


def _text(data: dict, name: str, *, required: bool = False) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ValidationError({name: "must be a string"})
    if required and not value.strip():
        raise ValidationError({name: "is required"})
    return value


class IncidentAcknowledgeApi(IncidentActionApi):
    def perform(self, request, incident, data):
        services.incident_acknowledge(incident_id=incident.pk, actor=request.user, via="api")


class IncidentResolveApi(IncidentActionApi):
    """`{"resolving_team", "resolution_code", "summary"}`; a bare POST: the owner team resolves
    with code `unspecified`."""

    def perform(self, request, incident, data):
        code = _text(data, "resolution_code") or ResolutionCode.UNSPECIFIED
        if code not in ResolutionCode.values:
            raise ValidationError(
                {"resolution_code": f"must be one of {', '.join(ResolutionCode.values)}"}
            )
        slug = _text(data, "resolving_team")
        team = _team_for(slug, "resolving_team") if slug else None
        services.incident_resolve(
            incident_id=incident.pk,
            actor=request.user,
            via="api",
            resolving_team=team,
            code=code,
            summary=_text(data, "summary"),
        )


class IncidentStatusApi(IncidentActionApi):
    """`{"status": "investigating" | "identified" | "mitigated" | ...}`: forward moves."""

    def perform(self, request, incident, data):
        status = _text(data, "status", required=True)
        if status not in Status.values or status == Status.RESOLVED:
            raise ValidationError({"status": "use /resolve/ to resolve; else a known status"})
        services.incident_transition(
            incident_id=incident.pk,
            to_status=status,
            actor=request.user,
            via="api",
            reason=_text(data, "reason"),
        )


class IncidentReopenApi(IncidentActionApi):
    def perform(self, request, incident, data):
        services.incident_reopen(
            incident_id=incident.pk, actor=request.user, via="api", reason=_text(data, "reason")
        )


class IncidentCloseApi(IncidentActionApi):
    def perform(self, request, incident, data):
        services.incident_transition(
            incident_id=incident.pk,
            to_status=Status.CLOSED,
            actor=request.user,
            via="api",
            reason=_text(data, "reason"),
        )


class IncidentSeverityApi(IncidentActionApi):
    def perform(self, request, incident, data):
        updates.incident_change_severity(
            incident_id=incident.pk,
            severity=_text(data, "severity", required=True),
            reason=_text(data, "reason"),
            actor=request.user,
            via="api",
        )


class IncidentRoleApi(IncidentActionApi):
    """`{"role": "commander" | "communications_lead" | "scribe", "user": "<username>" | null}`"""

    def perform(self, request, incident, data):
        username = data.get("user")
        user = None
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise ValidationError({"user": f"no user {username!r}"})
        ownership.incident_assign_role(
            incident_id=incident.pk,
            role=_text(data, "role", required=True),
            user=user,
            actor=request.user,
            via="api",
        )


class IncidentRespondersApi(IncidentActionApi):
    """`{"users": ["<username>", ...], "teams": ["<slug>", ...]}`"""

    def perform(self, request, incident, data):
        usernames, slugs = data.get("users", []), data.get("teams", [])
        if not isinstance(usernames, list) or not isinstance(slugs, list):
            raise ValidationError({"users": "lists of usernames and team slugs"})
        # Checked before set() and the look-ups: a nested list or object is unhashable there.
        for field, names in (("users", usernames), ("teams", slugs)):
            if not all(isinstance(name, str) for name in names):
                raise ValidationError({field: "lists of usernames and team slugs"})
        users = list(get_user_model().objects.filter(username__in=usernames, is_active=True))
        if len(users) != len(set(usernames)):
            raise ValidationError({"users": "unknown user in the list"})
        teams = [_team_for(slug, "teams") for slug in slugs]
        ownership.incident_add_responders(
            incident_id=incident.pk, users=users, teams=teams, actor=request.user, via="api"
        )


class IncidentHandOffApi(IncidentActionApi):
    """`{"team": "<slug>", "reason": "..."}`"""

    def perform(self, request, incident, data):
        team = _team_for(_text(data, "team", required=True))
        ownership.incident_hand_off(
            incident_id=incident.pk,
            to_team=team,
            reason=_text(data, "reason", required=True),
            actor=request.user,
            via="api",
        )


class IncidentMergeApi(IncidentActionApi):
    """`{"into": <incident id>}`: move this incident's alerts into another and resolve this one as
    a duplicate. Answers the incident merged into."""

    def post(self, request, pk: int):
        into = request.data.get("into") if isinstance(request.data, dict) else None
        if isinstance(into, bool) or not isinstance(into, int):
            raise ValidationError({"into": "the id of the incident to merge into"})
        target = incident_get_for_user_or_404(user=request.user, pk=into)
        if not incident_user_may_act(user=request.user, incident=target):
            raise PermissionDenied("you may not act on the incident to merge into")
        return super().post(request, pk)

    def perform(self, request, incident, data):
        from .merging import incident_merge

        incident_merge(incident_id=incident.pk, into_id=data["into"], actor=request.user, via="api")

    def respond(self, request, incident):
        target = Incident.objects.get(pk=incident.merged_into_id)
        return Response(incident_detail_json(target))


class HandOffAcceptApi(APIView):
    def post(self, request, pk: int):
        hand_off = HandOff.objects.select_related("incident", "to_team").filter(pk=pk).first()
        if hand_off is None:
            raise Http404("no such hand-off")
        incident = incident_get_for_user_or_404(user=request.user, pk=hand_off.incident_id)
        if not incident_user_may_act(user=request.user, incident=incident):
            raise PermissionDenied("you may not act on this incident")
        hand_off = ownership.hand_off_accept(hand_off_id=pk, actor=request.user, via="api")
        return Response(HandOffSerializer(hand_off).data)


class IncidentNoteApi(IncidentActionApi):
    status_code = 201

    def perform(self, request, incident, data):
        updates.incident_add_note(
            incident_id=incident.pk,
            body=_text(data, "body", required=True),
            actor=request.user,
            via="api",
        )


class IncidentStatusUpdateApi(IncidentActionApi):
    status_code = 201

    def perform(self, request, incident, data):
        updates.incident_post_status_update(
            incident_id=incident.pk,
            body=_text(data, "body", required=True),
            actor=request.user,
            via="api",
        )


def parse_aware(value: str | None, name: str) -> datetime:
    if not value:
        raise ValidationError({name: "is required (ISO 8601 with an offset)"})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError({name: "must be an ISO 8601 time"}) from exc
    if parsed.tzinfo is None:
        raise ValidationError({name: "needs a UTC offset (e.g. 2026-11-01T00:00:00+00:00)"})
    return parsed


class MetricsApi(APIView):
    """`GET /api/v1/metrics/?since=<ISO>&until=<ISO>`: the IOC's KPIs over incidents resolved in
    [since, until), computed from the timeline."""

    def get(self, request):
        since = parse_aware(request.query_params.get("since"), "since")
        until = parse_aware(request.query_params.get("until"), "until")
        if until <= since:
            raise ValidationError({"until": "must be after since"})
        metrics = metrics_for_period(
            since=since, until=until, team_ids=team_ids_visible_to(user=request.user)
        )
        return Response({"since": since, "until": until, **metrics})
