"""REST API for routing rules and the routing tester.

Thin: serializers check the shape and turn the team's slug and the ids into objects; the
services in routing.py validate and write. Reading is for any signed-in user (the routes of
integrations they may see, and the global ones); writing for managers. Anonymous: 401; not
visible: 404; visible but not allowed: 403.
"""

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.escalation_models import EscalationPolicy
from ioc.api import IsManagerOrReadOnly, invalid
from teams.selectors import team_list_visible_to, user_is_manager

from .models import InboundEvent, Route
from .routing import (
    DEFAULT_GROUP_WAIT_SECONDS,
    DEFAULT_GROUP_WINDOW_MINUTES,
    RoutingTestError,
    route_create,
    route_delete,
    route_list_for_user,
    route_update,
    routing_test,
)
from .selectors import integration_list_for_user

# What PUT sets for a field it was not given: the model's defaults.
PUT_DEFAULTS = {
    "integration": None,
    "position": 0,
    "enabled": True,
    "is_default": False,
    "matchers": [],
    "team": None,
    "use_service_owner": False,
    "escalation_policy": None,
    "severity_override": "",
    "continue_matching": False,
    "group_by": [],
    "group_window_minutes": DEFAULT_GROUP_WINDOW_MINUTES,
    "group_wait_seconds": DEFAULT_GROUP_WAIT_SECONDS,
}


class RouteInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    integration = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    position = serializers.IntegerField(min_value=0, required=False)
    enabled = serializers.BooleanField(required=False)
    is_default = serializers.BooleanField(required=False)
    # Their content is checked by the service (route_clean), with messages naming the matcher.
    matchers = serializers.JSONField(required=False)
    team = serializers.SlugField(required=False, allow_null=True, allow_blank=True)
    use_service_owner = serializers.BooleanField(required=False)
    escalation_policy = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    severity_override = serializers.CharField(max_length=10, required=False, allow_blank=True)
    continue_matching = serializers.BooleanField(required=False)
    group_by = serializers.JSONField(required=False)
    group_window_minutes = serializers.IntegerField(min_value=0, required=False)
    group_wait_seconds = serializers.IntegerField(min_value=0, required=False)


def route_json(route: Route) -> dict:
    return {
        "id": route.pk,
        "name": route.name,
        "integration": route.integration_id,
        "position": route.position,
        "enabled": route.enabled,
        "is_default": route.is_default,
        "matchers": route.matchers,
        "team": route.team.slug if route.team else None,
        "use_service_owner": route.use_service_owner,
        "escalation_policy": route.escalation_policy_id,
        "severity_override": route.severity_override,
        "continue_matching": route.continue_matching,
        "group_by": route.group_by,
        "group_window_minutes": route.group_window_minutes,
        "group_wait_seconds": route.group_wait_seconds,
        "updated_at": route.updated_at,
    }


def _validated(serializer: serializers.Serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _objects(request, data: dict) -> dict:
    """The team's slug and the ids as objects; an unknown one is a 400 naming the field."""
    errors = {}
    if data.get("integration") is not None:
        integrations = integration_list_for_user(user=request.user)
        data["integration"] = integrations.filter(pk=data["integration"]).first()
        if data["integration"] is None:
            errors["integration"] = "no such integration"
    if "team" in data:
        slug = data["team"]
        data["team"] = team_list_visible_to(user=request.user).filter(slug=slug).first()
        if slug and data["team"] is None:
            errors["team"] = f"no team {slug!r}"
    if data.get("escalation_policy") is not None:
        pk = data["escalation_policy"]
        data["escalation_policy"] = EscalationPolicy.objects.filter(pk=pk).first()
        if data["escalation_policy"] is None:
            errors["escalation_policy"] = f"no escalation policy {pk}"
    if errors:
        raise serializers.ValidationError({name: [message] for name, message in errors.items()})
    return data


def _route_for(request, pk: int) -> Route:
    route = route_list_for_user(user=request.user).filter(pk=pk).first()
    if route is None:
        raise Http404("no such route")
    return route


class RouteListCreateApi(generics.GenericAPIView):
    """GET: the routes you may see, paginated; `?integration=<id>`: those that apply to it, in
    evaluation order. POST (managers): a new route."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request):
        integration = request.query_params.get("integration", "")
        if integration and not integration.isdecimal():
            raise serializers.ValidationError({"integration": "must be an integration id"})
        routes = route_list_for_user(
            user=request.user, integration_id=int(integration) if integration else None
        )
        page = self.paginate_queryset(routes)
        return self.get_paginated_response([route_json(route) for route in page])

    def post(self, request):
        data = _objects(request, _validated(RouteInputSerializer(data=request.data)))
        try:
            route = route_create(**{**PUT_DEFAULTS, **data}, created_by=request.user)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(route_json(_route_for(request, route.pk)), status=201)


class RouteDetailApi(APIView):
    """GET a route; PUT (managers) the whole route, fields left out taking their defaults;
    PATCH the given fields; DELETE."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request, pk: int):
        return Response(route_json(_route_for(request, pk)))

    def put(self, request, pk: int):
        return self._change(request, pk, partial=False)

    def patch(self, request, pk: int):
        return self._change(request, pk, partial=True)

    def delete(self, request, pk: int):
        route_delete(route=self._route_to_change(request, pk))
        return Response(status=204)

    def _route_to_change(self, request, pk: int) -> Route:
        route = _route_for(request, pk)  # 404 before 403: never confirm what is not visible
        if not user_is_manager(user=request.user):
            raise PermissionDenied("only managers and administrators may change routes")
        return route

    def _change(self, request, pk: int, *, partial: bool):
        route = self._route_to_change(request, pk)
        given = RouteInputSerializer(data=request.data, partial=partial)
        data = _objects(request, _validated(given))
        changes = data if partial else {**PUT_DEFAULTS, **data}
        try:
            route_update(route=route, **changes)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(route_json(_route_for(request, pk)))


class RouteTestInputSerializer(serializers.Serializer):
    integration = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    payload = serializers.JSONField(required=False)
    headers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=2000), required=False
    )
    delivery = serializers.IntegerField(min_value=1, required=False)
    alert = serializers.DictField(required=False)

    def validate(self, attrs):
        given = [name for name in ("payload", "delivery", "alert") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                "send one of: payload (with integration), delivery, alert"
            )
        if "payload" in attrs:
            if not isinstance(attrs["payload"], dict):
                raise serializers.ValidationError({"payload": "must be a JSON object"})
            if attrs.get("integration") is None:
                raise serializers.ValidationError(
                    {"integration": "is required with a payload: its parser reads it"}
                )
        return attrs


class RouteTestApi(APIView):
    """POST a sample, get back how it would be routed: `{"integration": id, "payload": {...},
    "headers": {...}}` (parsed by the integration's source), `{"delivery": id}` (a stored
    delivery) or `{"alert": {normalized fields}}` (optionally with `integration`). Answers
    `{"alerts": [{"fields", "decision"}]}` with every route tried and why; a payload the parser
    refuses is a 400 with its message. Writes nothing, so any signed-in user may ask about the
    integrations they may see."""

    def post(self, request):
        data = _validated(RouteTestInputSerializer(data=request.data))
        integrations = integration_list_for_user(user=request.user)
        integration_id = data.get("integration")
        if integration_id is None and "alert" in data:
            integration_id = data["alert"].get("integration") or None
        integration = None
        if integration_id is not None:
            if not str(integration_id).isdecimal():
                raise serializers.ValidationError({"integration": "must be an integration id"})
            integration = integrations.filter(pk=int(integration_id)).first()
            if integration is None:
                raise Http404("no such integration")
        try:
            if "delivery" in data:
                delivery = (
                    InboundEvent.objects.filter(integration__in=integrations, pk=data["delivery"])
                    .select_related("integration__team")
                    .first()
                )
                if delivery is None:
                    raise Http404("no such delivery")
                result = routing_test(
                    integration=delivery.integration,
                    body=delivery.body,
                    content_type=delivery.content_type,
                    headers=delivery.headers,
                )
            elif "alert" in data:
                result = routing_test(integration=integration, alert=data["alert"])
            else:
                result = routing_test(
                    integration=integration,
                    body=json.dumps(data["payload"]),
                    headers=data.get("headers") or {},
                )
        except RoutingTestError as exc:
            return Response({"error": str(exc)}, status=400)
        return Response(result.as_dict())
