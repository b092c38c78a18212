"""REST API for silences, maintenance windows and inhibit rules (mounted at /api/v1/).

Thin: serializers check the shape of the input; the services in alerts/suppression.py validate
the matchers, the times and the zone, write, and record the admin LogEntry. Anonymous: 401;
not allowed: 403 (logged by ioc.api); unknown id: 404. Anyone signed in may read. Managers and
the IOC's members create and expire silences; managers manage windows and inhibit rules.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from ioc.api import IsManagerOrReadOnly, invalid

from .models import InhibitRule, MaintenanceWindow, Silence
from .suppression import (
    inhibit_rule_create,
    inhibit_rule_delete,
    inhibit_rule_list,
    inhibit_rule_update,
    maintenance_window_create,
    maintenance_window_delete,
    maintenance_window_list,
    maintenance_window_occurrences,
    maintenance_window_update,
    silence_create,
    silence_expire,
    silence_list,
    silence_state,
    silence_user_may_manage,
)
from .windows import MAX_DURATION_MINUTES

NEXT_OCCURRENCES = 3
MAX_SILENCE_MINUTES = 90 * 24 * 60


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


# --- representations ----------------------------------------------------------------------


def silence_json(silence: Silence, *, at: datetime) -> dict:
    return {
        "id": silence.pk,
        "matchers": silence.matchers,
        "starts_at": silence.starts_at,
        "ends_at": silence.ends_at,
        "comment": silence.comment,
        "state": silence_state(silence, at),
        "created_by": _username(silence.created_by),
        "created_at": silence.created_at,
        "ended_handled_at": silence.ended_handled_at,
    }


def window_json(window: MaintenanceWindow, *, at: datetime) -> dict:
    active, upcoming = maintenance_window_occurrences(window=window, at=at, count=NEXT_OCCURRENCES)
    return {
        "id": window.pk,
        "name": window.name,
        "matchers": window.matchers,
        "reason": window.reason,
        "kind": "weekly" if window.starts_at is None and window.ends_at is None else "one_off",
        "time_zone": window.time_zone,
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
        "weekdays": window.weekdays,
        "start_time": window.start_time.strftime("%H:%M") if window.start_time else None,
        "duration_minutes": window.duration_minutes,
        "enabled": window.enabled,
        "active": active,
        "next_occurrences": [{"starts_at": opens, "ends_at": closes} for opens, closes in upcoming],
        "created_by": _username(window.created_by),
        "created_at": window.created_at,
        "last_end_handled": window.last_end_handled,
    }


def rule_json(rule: InhibitRule) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "source_matchers": rule.source_matchers,
        "target_matchers": rule.target_matchers,
        "equal": rule.equal,
        "enabled": rule.enabled,
        "created_by": _username(rule.created_by),
        "created_at": rule.created_at,
    }


# --- input --------------------------------------------------------------------------------


class SilenceInputSerializer(serializers.Serializer):
    matchers = serializers.JSONField()
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False)
    duration_minutes = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_SILENCE_MINUTES
    )
    comment = serializers.CharField(allow_blank=True, trim_whitespace=True)

    def validate(self, data: dict) -> dict:
        if ("ends_at" in data) == ("duration_minutes" in data):
            raise serializers.ValidationError(
                {"ends_at": "give either ends_at or duration_minutes (from starts_at or now)"}
            )
        return data


class WindowInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    matchers = serializers.JSONField()
    reason = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField(max_length=64, required=False)
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False
    )
    start_time = serializers.TimeField(required=False, allow_null=True)
    duration_minutes = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_DURATION_MINUTES
    )
    enabled = serializers.BooleanField(required=False)


# PUT replaces the whole window: what it leaves out takes these values.
WINDOW_DEFAULTS = {
    "time_zone": "UTC",
    "starts_at": None,
    "ends_at": None,
    "weekdays": [],
    "start_time": None,
    "duration_minutes": 0,
    "enabled": True,
}


class RuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    source_matchers = serializers.JSONField()
    target_matchers = serializers.JSONField()
    equal = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    enabled = serializers.BooleanField(required=False)


RULE_DEFAULTS = {"equal": [], "enabled": True}


def _validated(serializer: serializers.Serializer) -> dict:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- silences -----------------------------------------------------------------------------


def _may_silence(request) -> None:
    if not silence_user_may_manage(user=request.user):
        raise PermissionDenied("only managers and the IOC's members may create or expire silences")


def _silence_for(pk: int) -> Silence:
    silence = Silence.objects.select_related("created_by").filter(pk=pk).first()
    if silence is None:
        raise Http404("no such silence")
    return silence


class SilenceListCreateApi(generics.GenericAPIView):
    """GET: active and upcoming silences and those ended within a day, latest start first,
    paginated. POST (managers, IOC members): `matchers`, `comment`, `ends_at` or
    `duration_minutes`, optional `starts_at` (default now)."""

    def get(self, request):
        now = timezone.now()
        page = self.paginate_queryset(silence_list(at=now))
        return self.get_paginated_response([silence_json(s, at=now) for s in page])

    def post(self, request):
        _may_silence(request)
        data = _validated(SilenceInputSerializer(data=request.data))
        starts_at = data.get("starts_at") or timezone.now()
        ends_at = data.get("ends_at") or starts_at + timedelta(minutes=data["duration_minutes"])
        try:
            silence = silence_create(
                matchers=data["matchers"],
                starts_at=starts_at,
                ends_at=ends_at,
                comment=data["comment"],
                actor=request.user,
                via="api",
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(silence_json(_silence_for(silence.pk), at=timezone.now()), status=201)


class SilenceDetailApi(generics.GenericAPIView):
    """GET a silence; DELETE (managers, IOC members) expires it now and answers it, expired."""

    def get(self, request, pk: int):
        return Response(silence_json(_silence_for(pk), at=timezone.now()))

    def delete(self, request, pk: int):
        silence = _silence_for(pk)
        _may_silence(request)
        silence = silence_expire(silence=silence, actor=request.user, via="api")
        return Response(silence_json(_silence_for(silence.pk), at=timezone.now()))


# --- maintenance windows ------------------------------------------------------------------


def _window_for(pk: int) -> MaintenanceWindow:
    window = maintenance_window_list().filter(pk=pk).first()
    if window is None:
        raise Http404("no such maintenance window")
    return window


class MaintenanceWindowListCreateApi(generics.GenericAPIView):
    """GET: every window with whether it is open and its next occurrences, paginated. POST
    (managers): `name`, `matchers`, `reason`, `time_zone`, and either `starts_at` + `ends_at`
    (one-off) or `weekdays` (0 = Monday), `start_time` (local) and `duration_minutes`."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request):
        now = timezone.now()
        page = self.paginate_queryset(maintenance_window_list())
        return self.get_paginated_response([window_json(w, at=now) for w in page])

    def post(self, request):
        data = {**WINDOW_DEFAULTS, **_validated(WindowInputSerializer(data=request.data))}
        try:
            window = maintenance_window_create(actor=request.user, via="api", **data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(window_json(_window_for(window.pk), at=timezone.now()), status=201)


class MaintenanceWindowDetailApi(generics.GenericAPIView):
    """GET a window; PUT (managers) all of it; PATCH what is given; DELETE."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request, pk: int):
        return Response(window_json(_window_for(pk), at=timezone.now()))

    def put(self, request, pk: int):
        return self._change(request, pk, partial=False)

    def patch(self, request, pk: int):
        return self._change(request, pk, partial=True)

    def delete(self, request, pk: int):
        maintenance_window_delete(window=_window_for(pk), actor=request.user, via="api")
        return Response(status=204)

    def _change(self, request, pk: int, *, partial: bool):
        window = _window_for(pk)
        data = _validated(WindowInputSerializer(data=request.data, partial=partial))
        if not partial:
            data = {**WINDOW_DEFAULTS, **data}
        try:
            maintenance_window_update(window=window, actor=request.user, via="api", **data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(window_json(_window_for(pk), at=timezone.now()))


# --- inhibit rules ------------------------------------------------------------------------


def _rule_for(pk: int) -> InhibitRule:
    rule = inhibit_rule_list().filter(pk=pk).first()
    if rule is None:
        raise Http404("no such inhibit rule")
    return rule


class InhibitRuleListCreateApi(generics.GenericAPIView):
    """GET: the inhibit rules, paginated. POST (managers): `name`, `source_matchers`,
    `target_matchers`, `equal` (label names), `enabled`."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request):
        page = self.paginate_queryset(inhibit_rule_list())
        return self.get_paginated_response([rule_json(rule) for rule in page])

    def post(self, request):
        data = {**RULE_DEFAULTS, **_validated(RuleInputSerializer(data=request.data))}
        try:
            rule = inhibit_rule_create(actor=request.user, via="api", **data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(rule_json(_rule_for(rule.pk)), status=201)


class InhibitRuleDetailApi(generics.GenericAPIView):
    """GET a rule; PUT (managers) all of it; PATCH what is given; DELETE."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request, pk: int):
        return Response(rule_json(_rule_for(pk)))

    def put(self, request, pk: int):
        return self._change(request, pk, partial=False)

    def patch(self, request, pk: int):
        return self._change(request, pk, partial=True)

    def delete(self, request, pk: int):
        inhibit_rule_delete(rule=_rule_for(pk), actor=request.user, via="api")
        return Response(status=204)

    def _change(self, request, pk: int, *, partial: bool):
        rule = _rule_for(pk)
        data = _validated(RuleInputSerializer(data=request.data, partial=partial))
        if not partial:
            data = {**RULE_DEFAULTS, **data}
        try:
            inhibit_rule_update(rule=rule, actor=request.user, via="api", **data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(rule_json(_rule_for(pk)))
