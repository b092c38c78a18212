from django.db import transaction
from django.http import Http404
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc.api import IsManagerOrReadOnly
from teams.models import Team
from teams.selectors import team_list_visible_to

from .models import Alert, Integration
from .selectors import alert_list_for_user, integration_list_for_user
from .services import integration_create, integration_ingest_url, integration_rotate_token
from .sources import source_for_kind


class TeamSlugField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Team.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return team_list_visible_to(user=request.user) if request else Team.objects.none()


class IntegrationSerializer(serializers.ModelSerializer):
    team = TeamSlugField()

    class Meta:
        model = Integration
        fields = ["id", "name", "kind", "team", "enabled", "default_severity", "created_at"]
        read_only_fields = ["id", "enabled", "created_at"]

    def validate_kind(self, kind: str) -> str:
        try:
            source_for_kind(kind)
        except (KeyError, ImportError) as exc:
            raise serializers.ValidationError(f"no parser for kind {kind!r}") from exc
        return kind


class IntegrationListCreateApi(generics.ListCreateAPIView):
    serializer_class = IntegrationSerializer
    permission_classes = [IsManagerOrReadOnly]

    def get_queryset(self):
        return integration_list_for_user(user=self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            integration, token = integration_create(**serializer.validated_data)
        data = IntegrationSerializer(integration, context={"request": request}).data
        # The token and its URL are shown this once: only the hash is stored.
        data["token"] = token
        data["ingest_url"] = integration_ingest_url(
            token=token, base_url=request.build_absolute_uri("/")
        )
        return Response(data, status=201)


class IntegrationRotateTokenApi(APIView):
    """POST /api/v1/integrations/<id>/rotate_token/: a new token, shown once; the old one keeps
    working for IOC_TOKEN_ROTATION_GRACE_HOURS."""

    permission_classes = [IsManagerOrReadOnly]

    def post(self, request, pk: int):
        integration = integration_list_for_user(user=request.user).filter(pk=pk).first()
        if integration is None:
            raise Http404("no such integration")
        token = integration_rotate_token(integration=integration)
        integration.refresh_from_db()
        data = IntegrationSerializer(integration, context={"request": request}).data
        data["token"] = token
        data["ingest_url"] = integration_ingest_url(
            token=token, base_url=request.build_absolute_uri("/")
        )
        data["previous_token_valid_until"] = integration.previous_token_valid_until
        return Response(data)


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id",
            "integration",
            "fingerprint",
            "status",
            "severity",
            "name",
            "summary",
            "description",
            "source",
            "service",
            "labels",
            "count",
            "incident",
            "first_seen",
            "last_seen",
            "resolved_at",
            "flapping",
            "source_started_at",
        ]


class AlertListApi(generics.ListAPIView):
    serializer_class = AlertSerializer

    def get_queryset(self):
        params = self.request.query_params
        integration = params.get("integration", "")
        if integration and not integration.isdecimal():
            raise serializers.ValidationError({"integration": "must be an integration id"})
        status = params.get("status", "")
        if status and status not in Alert.Status.values:
            raise serializers.ValidationError({"status": "must be firing or resolved"})
        return alert_list_for_user(
            user=self.request.user, integration_id=integration, status=status
        ).order_by("-last_seen", "-id")


class AlertSplitApi(APIView):
    """POST /api/v1/alerts/<id>/split/: the alert out of its incident into a new one (201)."""

    def post(self, request, pk: int):
        from incidents.api import incident_detail_json
        from incidents.selectors import incident_user_may_act
        from incidents.transitions import WorkflowRefused

        from .services import alert_split

        alert = (
            alert_list_for_user(user=request.user).filter(pk=pk).select_related("incident").first()
        )
        if alert is None:
            raise Http404("no such alert")
        if alert.incident and not incident_user_may_act(user=request.user, incident=alert.incident):
            raise PermissionDenied("you may not act on this alert's incident")
        try:
            incident = alert_split(alert_id=alert.pk, actor=request.user, via="api")
        except WorkflowRefused as exc:
            return Response({"error": str(exc)}, status=409)
        return Response(incident_detail_json(incident), status=201)
