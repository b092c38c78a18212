from django.http import Http404
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Incident, IncidentEvent, Status
from .selectors import incident_get_for_user, incident_list_for_user, incident_user_may_act
from .services import incident_acknowledge, incident_resolve
from .transitions import TransitionNotAllowed


class TimelineEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentEvent
        fields = ["id", "at", "kind", "actor", "via", "message", "data"]


class IncidentSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

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
        ]


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEventSerializer(source="events", many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "timeline"]


STATUS_FILTERS = {"open", *Status.values}


class IncidentListApi(generics.ListAPIView):
    serializer_class = IncidentSerializer

    def get_queryset(self):
        status = self.request.query_params.get("status", "")
        if status and status not in STATUS_FILTERS:
            raise serializers.ValidationError(
                {"status": f"must be one of: {', '.join(sorted(STATUS_FILTERS))}"}
            )
        return incident_list_for_user(
            user=self.request.user,
            status=status,
            team_slug=self.request.query_params.get("team", ""),
        ).order_by("-opened_at", "-id")


def incident_for_request(request, pk: int) -> Incident:
    try:
        return incident_get_for_user(user=request.user, pk=pk)
    except Incident.DoesNotExist as exc:
        raise Http404("no such incident") from exc


class IncidentDetailApi(APIView):
    def get(self, request, pk: int):
        incident = incident_for_request(request, pk)
        return Response(IncidentDetailSerializer(incident).data)


class _IncidentActionApi(APIView):
    action = None

    def post(self, request, pk: int):
        incident = incident_for_request(request, pk)
        if not incident_user_may_act(user=request.user, incident=incident):
            raise PermissionDenied("you may not act on this incident")
        try:
            outcome = self.action(incident_id=incident.pk, actor=request.user, via="api")
        except TransitionNotAllowed as exc:
            return Response({"error": str(exc), "status": exc.current}, status=409)
        return Response(IncidentDetailSerializer(outcome.incident).data, status=200)


class IncidentAcknowledgeApi(_IncidentActionApi):
    action = staticmethod(incident_acknowledge)


class IncidentResolveApi(_IncidentActionApi):
    action = staticmethod(incident_resolve)
