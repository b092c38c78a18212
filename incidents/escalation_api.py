"""REST API for escalation policies and an incident's escalation and notifications.

Thin: serializers check the shape of the input and turn slugs and usernames into objects; the
services in escalation_policies.py validate and write. Anonymous: 401; not visible: 404; visible
but not allowed: 403 (logged by ioc.api). Webhook URLs are secrets: readers who are not managers
see them masked, and notifications always show them masked.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from ioc.api import IsManagerOrReadOnly, invalid
from teams.models import Team
from teams.selectors import team_list_visible_to, user_is_manager

from .escalation_models import EscalationPolicy, EscalationStep
from .escalation_policies import (
    MAX_STEPS,
    WEBHOOK_FORMATS,
    StepInput,
    escalation_policy_create,
    escalation_policy_delete,
    escalation_policy_get_for_user,
    escalation_policy_list_for_user,
    escalation_policy_update,
    escalation_state_for,
    incident_notifications,
    notification_address_masked,
    notification_row,
)
from .selectors import incident_get_for_user_or_404


def _flat(errors, prefix: str = "") -> dict:
    """DRF's nested errors ({"steps": {"0": {"kind": [...]}}}) as the services name them
    ("steps[0].kind"), so that a client sees one shape whoever found the problem."""
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        errors = {str(index): error for index, error in enumerate(errors) if error}
    if not isinstance(errors, dict):
        return {prefix: errors}
    flat = {}
    for key, value in errors.items():
        if prefix and key == "non_field_errors":
            name = prefix  # about the list itself, e.g. too many steps
        elif prefix and str(key).isdecimal():
            name = f"{prefix}[{key}]"
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(_flat(value, name))
    return flat


def _validated(serializer: serializers.Serializer) -> dict:
    if not serializer.is_valid():
        raise serializers.ValidationError(_flat(serializer.errors))
    return serializer.validated_data


class StepInputSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=EscalationStep.Kind.values)
    schedule_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    team = serializers.SlugField(required=False, allow_null=True, allow_blank=True)
    users = serializers.ListField(
        child=serializers.CharField(max_length=150), required=False, max_length=200
    )
    webhook_url = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    webhook_format = serializers.ChoiceField(
        choices=["", *WEBHOOK_FORMATS], required=False, allow_blank=True
    )
    wait_minutes = serializers.FloatField(required=False)
    repeat_times = serializers.IntegerField(required=False)
    repeat_from = serializers.IntegerField(required=False)
    condition = serializers.DictField(required=False)


class PolicyInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    team = serializers.SlugField()
    is_default = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ack_timeout_minutes = serializers.IntegerField(required=False)
    # Bounded here too: each step costs look-ups before the service counts them.
    steps = StepInputSerializer(many=True, required=False, max_length=MAX_STEPS)


def _step_inputs(raw_steps: list[dict]) -> list[StepInput]:
    """Slugs and usernames to teams and users; unknown ones are a 400 naming the step."""
    users = get_user_model().objects.filter(is_active=True)
    steps, errors = [], {}
    for index, raw in enumerate(raw_steps):
        team = None
        if slug := raw.get("team"):
            # Any team: a hand-off or a manager to page may well be outside the IOC.
            team = Team.objects.filter(slug=slug).first()
            if team is None:
                errors[f"steps[{index}].team"] = f"no team {slug!r}"
        names = list(dict.fromkeys(raw.get("users") or []))
        found = {user.get_username(): user for user in users.filter(username__in=names)}
        if missing := [name for name in names if name not in found]:
            errors[f"steps[{index}].users"] = f"no active user {', '.join(map(repr, missing))}"
        steps.append(
            StepInput(
                kind=raw.get("kind", ""),
                position=raw.get("position"),
                schedule_id=raw.get("schedule_id"),
                team=team,
                users=tuple(found[name] for name in names if name in found),
                webhook_url=(raw.get("webhook_url") or "").strip(),
                webhook_format=raw.get("webhook_format") or "",
                wait_minutes=raw.get("wait_minutes", 0.0),
                repeat_times=raw.get("repeat_times", 0),
                repeat_from=raw.get("repeat_from", 1),
                condition=raw.get("condition") or {},
            )
        )
    if errors:
        raise serializers.ValidationError(errors)
    return steps


def _team_for(request, slug: str) -> Team:
    team = team_list_visible_to(user=request.user).filter(slug=slug).first()
    if team is None:
        raise serializers.ValidationError({"team": f"no team {slug!r}"})
    return team


def policy_json(policy: EscalationPolicy, *, reveal_webhooks: bool) -> dict:
    """The representation; `policy` loaded by escalation_policy_list_for_user."""
    steps = []
    for step in policy.steps.all():
        url = step.webhook_url
        if url and not reveal_webhooks:
            url = notification_address_masked(channel="webhook", address=url)
        steps.append(
            {
                "id": step.pk,
                "position": step.position,
                "kind": step.kind,
                "schedule_id": step.schedule_id,
                "team": step.team.slug if step.team else None,
                "users": sorted(user.get_username() for user in step.users.all()),
                "webhook_url": url,
                "webhook_format": step.webhook_format,
                "wait_minutes": step.wait_minutes,
                "repeat_times": step.repeat_times,
                "repeat_from": step.repeat_from,
                "condition": step.condition or {},
            }
        )
    return {
        "id": policy.pk,
        "name": policy.name,
        "team": policy.team.slug,
        "is_default": policy.is_default,
        "description": policy.description,
        "time_zone": policy.time_zone,
        "ack_timeout_minutes": policy.ack_timeout_minutes,
        "steps": steps,
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
    }


def _policy_for(request, pk: int) -> EscalationPolicy:
    try:
        return escalation_policy_get_for_user(user=request.user, pk=pk)
    except EscalationPolicy.DoesNotExist as exc:
        raise Http404("no such escalation policy") from exc


def _answer(request, pk: int, status: int = 200) -> Response:
    # The webhook URLs are shown in full only to those who may change them.
    reveal = user_is_manager(user=request.user)
    return Response(policy_json(_policy_for(request, pk), reveal_webhooks=reveal), status=status)


class EscalationPolicyListCreateApi(generics.GenericAPIView):
    """GET: the policies of teams you may see, paginated. POST (managers): a policy with its
    ordered `steps`; `is_default: true` replaces the team's default."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request):
        page = self.paginate_queryset(escalation_policy_list_for_user(user=request.user))
        reveal = user_is_manager(user=request.user)
        return self.get_paginated_response(
            [policy_json(policy, reveal_webhooks=reveal) for policy in page]
        )

    def post(self, request):
        data = _validated(PolicyInputSerializer(data=request.data))
        team = _team_for(request, data["team"])
        try:
            policy = escalation_policy_create(
                team=team,
                name=data["name"],
                steps=_step_inputs(data.get("steps", [])),
                is_default=data.get("is_default", False),
                description=data.get("description", ""),
                time_zone=data.get("time_zone", ""),
                ack_timeout_minutes=data.get("ack_timeout_minutes", 0),
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return _answer(request, policy.pk, status=201)


class EscalationPolicyDetailApi(generics.GenericAPIView):
    """GET a policy; PUT (managers) the whole policy, `steps` required; PATCH what is given,
    `steps` replacing all the steps; DELETE. Running escalations keep their snapshot."""

    def get(self, request, pk: int):
        return _answer(request, pk)

    def put(self, request, pk: int):
        return self._change(request, pk, partial=False)

    def patch(self, request, pk: int):
        return self._change(request, pk, partial=True)

    def delete(self, request, pk: int):
        policy = self._policy_to_change(request, pk)
        escalation_policy_delete(policy=policy)
        return Response(status=204)

    def _policy_to_change(self, request, pk: int) -> EscalationPolicy:
        policy = _policy_for(request, pk)  # 404 before 403: never confirm what is not visible
        if not user_is_manager(user=request.user):
            raise PermissionDenied("only managers and administrators may change policies")
        return policy

    def _change(self, request, pk: int, *, partial: bool):
        policy = self._policy_to_change(request, pk)
        data = _validated(PolicyInputSerializer(data=request.data, partial=partial))
        if not partial and "steps" not in data:
            raise serializers.ValidationError(
                {"steps": "is required: PUT replaces the whole policy (PATCH changes a part)"}
            )
        steps = _step_inputs(data["steps"]) if "steps" in data else None
        try:
            escalation_policy_update(
                policy=policy,
                name=data.get("name"),
                team=_team_for(request, data["team"]) if "team" in data else None,
                is_default=data.get("is_default", False if not partial else None),
                description=data.get("description", "" if not partial else None),
                time_zone=data.get("time_zone", "" if not partial else None),
                ack_timeout_minutes=data.get("ack_timeout_minutes", 0 if not partial else None),
                steps=steps,
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return _answer(request, pk)


class IncidentNotificationListApi(generics.GenericAPIView):
    """GET: the incident's notifications, oldest first, paginated: who, channel, address
    (masked for webhooks), purpose, status, attempts, due and sent times, last error."""

    def get(self, request, pk: int):
        incident = incident_get_for_user_or_404(user=request.user, pk=pk)
        page = self.paginate_queryset(incident_notifications(incident=incident))
        rows = []
        for notification in page:
            row = notification_row(notification)
            for key in ("is_webhook", "status_label", "step_label"):
                row.pop(key)  # for the page, not the API
            rows.append(row)
        return self.get_paginated_response(rows)


class IncidentEscalationApi(generics.GenericAPIView):
    """GET: where the incident's escalation stands, from its snapshot: state, run, policy,
    step ("2 of 4"), next_at, next_step, ack_deadline, summary. No policy: state null."""

    def get(self, request, pk: int):
        incident = incident_get_for_user_or_404(user=request.user, pk=pk)
        state = escalation_state_for(incident=incident)
        if state is None:
            state = {"state": None, "summary": "No escalation: the team has no default policy"}
        return Response(state)
