from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.duration import duration_string
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc.api import IsManagerOrReadOnly, invalid

from .ical import CalendarError
from .models import ContactMethod, NotificationRule, Schedule, ScheduleLayer, ScheduleOverride, Team
from .selectors import (
    GAP_WARNING_DAYS,
    ICAL_DAYS,
    contact_method_list_for,
    notification_rule_list_for,
    schedule_gaps,
    schedule_get_for_user,
    schedule_ical,
    schedule_list_visible_to,
    schedule_upcoming_overrides,
    schedule_user_may_override,
    schedules_oncall,
    team_get_visible,
    team_list_visible_to,
    team_oncall,
    user_get_for_contacts,
    user_ical,
    user_is_manager,
)
from .services import (
    LayerInput,
    contact_method_create,
    contact_method_delete,
    contact_method_update,
    notification_rule_create,
    notification_rule_delete,
    notification_rule_update,
    schedule_create,
    schedule_delete,
    schedule_import_ical,
    schedule_override_create,
    schedule_override_delete,
    schedule_swap_create,
    schedule_update,
    team_create,
)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "slug", "in_ioc", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class TeamListCreateApi(generics.ListCreateAPIView):
    serializer_class = TeamSerializer
    permission_classes = [IsManagerOrReadOnly]

    def get_queryset(self):
        return team_list_visible_to(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = team_create(**serializer.validated_data)


# --- on-call schedules ---------------------------------------------------------------------
# Thin: serializers check the shape of the input, services do the work, selectors compute who
# is on call. Not visible -> 404; visible but not allowed -> 403 (logged by ioc.api).

MAX_ICS_BYTES = 1024 * 1024


def _active_user_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.filter(is_active=True), **kwargs
    )


def _username(user) -> str | None:
    return user.get_username() if user else None


class ZonedDateTimeField(serializers.DateTimeField):
    """ISO 8601; a time without an offset is read in the schedule's zone (context "zone")."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        parsed = parse_datetime(value.strip())
        if parsed is None:
            self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss][+HH:MM|Z]")
        if timezone.is_naive(parsed):
            parsed = parsed.replace(tzinfo=ZoneInfo(self.context["zone"]))
        return parsed


class RestrictionSerializer(serializers.Serializer):
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, default=list
    )
    start = serializers.TimeField(required=False, allow_null=True, default=None)
    end = serializers.TimeField(required=False, allow_null=True, default=None)


class LayerInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    position = serializers.IntegerField(min_value=0, required=False, default=0)
    rotation_kind = serializers.ChoiceField(choices=ScheduleLayer.Rotation.values)
    shift_length = serializers.DurationField(required=False, allow_null=True, default=None)
    handoff_time = serializers.TimeField(required=False, default=time(9, 0))
    start = serializers.DateField()
    restriction = RestrictionSerializer(required=False, allow_null=True, default=None)
    members = serializers.ListField(child=_active_user_field(), allow_empty=True, default=list)

    def to_layer(self) -> LayerInput:
        data = self.validated_data
        restriction = data["restriction"] or {}
        return LayerInput(
            name=data["name"],
            start=data["start"],
            rotation_kind=data["rotation_kind"],
            handoff_time=data["handoff_time"],
            users=data["members"],
            position=data["position"],
            shift_length=data["shift_length"],
            restrict_days="".join(str(day) for day in sorted(set(restriction.get("days", [])))),
            restrict_start=restriction.get("start"),
            restrict_end=restriction.get("end"),
        )


class ScheduleInputSerializer(serializers.Serializer):
    team = serializers.SlugField(required=False)
    name = serializers.CharField(max_length=100, required=False)
    time_zone = serializers.CharField(max_length=64, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    layers = LayerInputSerializer(many=True, required=False)

    def layer_inputs(self) -> list[LayerInput] | None:
        if "layers" not in self.initial_data:
            return None
        layers = []
        # Again one by one and in full: a PATCH validates `layers` as partial, but a layer
        # replaces the old ones whole, so it needs every required field.
        for index, raw in enumerate(self.initial_data["layers"]):
            layer = LayerInputSerializer(data=raw)
            if not layer.is_valid():
                raise serializers.ValidationError(
                    {f"layers[{index}].{name}": errors for name, errors in layer.errors.items()}
                )
            layers.append(layer.to_layer())
        return layers


def layer_json(layer: ScheduleLayer) -> dict:
    restricted = layer.restrict_days or layer.restrict_start is not None
    return {
        "id": layer.pk,
        "name": layer.name,
        "position": layer.position,
        "rotation_kind": layer.rotation_kind,
        "shift_length": duration_string(layer.shift_length) if layer.shift_length else None,
        "handoff_time": layer.handoff_time.isoformat(),
        "start": layer.start.isoformat(),
        "restriction": {
            "days": [int(day) for day in layer.restrict_days],
            "start": layer.restrict_start.isoformat() if layer.restrict_start else None,
            "end": layer.restrict_end.isoformat() if layer.restrict_end else None,
        }
        if restricted
        else None,
        "members": [member.user.get_username() for member in layer.members.all()],
    }


def override_json(override: ScheduleOverride) -> dict:
    return {
        "id": override.pk,
        "user": _username(override.user),
        "start": override.start.isoformat(),
        "end": override.end.isoformat(),
        "replaces": _username(override.replaces),
        "reason": override.reason,
        "created_by": _username(override.created_by),
        "created_at": override.created_at.isoformat(),
    }


def schedule_json(schedule: Schedule, *, at: datetime, oncall: dict | None = None) -> dict:
    """The representation; `schedule` loaded by schedule_get_for_user or
    schedule_list_visible_to with since=at, `oncall` from schedules_oncall when listing."""
    oncall = oncall or schedules_oncall(schedules=[schedule], at=at)
    mine = {
        key: [entry for entry in oncall[key] if entry.schedule.pk == schedule.pk]
        for key in ("now", "next")
    }
    return {
        "id": schedule.pk,
        "team": schedule.team.slug,
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        "description": schedule.description,
        "layers": [layer_json(layer) for layer in schedule.layers.all()],
        # Overrides not over yet (prefetched so); older ones stay in the admin.
        "overrides": [
            override_json(o)
            for o in sorted(schedule.overrides.all(), key=lambda o: (o.start, o.pk))
            if o.end > at
        ],
        "oncall": {key: [entry.as_json() for entry in mine[key]] for key in ("now", "next")},
        "gaps": [
            {"start": start.isoformat(), "end": end.isoformat()}
            for start, end in schedule_gaps(schedule=schedule, at=at, days=GAP_WARNING_DAYS)
        ],
        "created_at": schedule.created_at.isoformat(),
    }


def _schedule_for(request, pk: int, *, at: datetime | None = None) -> Schedule:
    try:
        return schedule_get_for_user(user=request.user, pk=pk, since=at)
    except Schedule.DoesNotExist as exc:
        raise Http404("no such schedule") from exc


class ScheduleListCreateApi(generics.ListCreateAPIView):
    """GET: the schedules of teams you may see. POST (managers): a schedule with its layers."""

    permission_classes = [IsManagerOrReadOnly]
    at: datetime | None = None

    def get_queryset(self):
        return schedule_list_visible_to(user=self.request.user, since=self.at)

    def list(self, request, *args, **kwargs):
        self.at = timezone.now()
        page = self.paginate_queryset(self.get_queryset())
        oncall = schedules_oncall(schedules=page, at=self.at)
        return self.get_paginated_response(
            [schedule_json(s, at=self.at, oncall=oncall) for s in page]
        )

    def create(self, request, *args, **kwargs):
        given = ScheduleInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        missing = {f: "is required" for f in ("team", "name") if f not in data}
        if missing:
            raise serializers.ValidationError(missing)
        team = team_list_visible_to(user=request.user).filter(slug=data["team"]).first()
        if team is None:
            raise serializers.ValidationError({"team": f"no team {data['team']!r}"})
        try:
            schedule = schedule_create(
                team=team,
                name=data["name"],
                time_zone=data.get("time_zone", "UTC"),
                description=data.get("description", ""),
                layers=given.layer_inputs() or [],
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        at = timezone.now()
        return Response(schedule_json(_schedule_for(request, schedule.pk, at=at), at=at), 201)


class ScheduleDetailApi(APIView):
    """GET a schedule; PATCH (managers) what is given, `layers` replacing all; DELETE."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request, pk: int):
        at = timezone.now()
        return Response(schedule_json(_schedule_for(request, pk, at=at), at=at))

    def patch(self, request, pk: int):
        schedule = _schedule_for(request, pk)
        given = ScheduleInputSerializer(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        if "team" in data and data["team"] != schedule.team.slug:
            raise serializers.ValidationError({"team": "a schedule's team cannot change"})
        try:
            schedule_update(
                schedule=schedule,
                name=data.get("name"),
                time_zone=data.get("time_zone"),
                description=data.get("description"),
                layers=given.layer_inputs(),
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        at = timezone.now()
        return Response(schedule_json(_schedule_for(request, pk, at=at), at=at))

    def delete(self, request, pk: int):
        schedule_delete(schedule=_schedule_for(request, pk))
        return Response(status=204)


class OverrideInputSerializer(serializers.Serializer):
    """One override; with `return_start` and `return_end` too, a swap: `user` takes the shifts
    of `replaces` from start to end, and `replaces` takes the shifts of `user` in return."""

    user = _active_user_field()
    start = ZonedDateTimeField()
    end = ZonedDateTimeField()
    replaces = _active_user_field(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    return_start = ZonedDateTimeField(required=False, allow_null=True, default=None)
    return_end = ZonedDateTimeField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        is_swap = attrs["return_start"] is not None or attrs["return_end"] is not None
        if is_swap and attrs["replaces"] is None:
            raise serializers.ValidationError({"replaces": "a swap needs the other person"})
        return attrs


def _may_override(request, schedule: Schedule) -> None:
    if not schedule_user_may_override(user=request.user, schedule=schedule):
        raise PermissionDenied("only the team's members and managers change who is on call")


class ScheduleOverrideListCreateApi(APIView):
    """GET: overrides not over yet. POST (the team's members, managers): an override or a
    swap; answers {"overrides": [...]} with what was made."""

    def get(self, request, pk: int):
        schedule = _schedule_for(request, pk)
        overrides = schedule_upcoming_overrides(schedule=schedule)
        return Response({"results": [override_json(o) for o in overrides]})

    def post(self, request, pk: int):
        schedule = _schedule_for(request, pk)
        _may_override(request, schedule)
        given = OverrideInputSerializer(data=request.data, context={"zone": schedule.time_zone})
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            if data["return_start"] is not None or data["return_end"] is not None:
                made = schedule_swap_create(
                    schedule=schedule,
                    user=data["user"],
                    with_user=data["replaces"],
                    start=data["start"],
                    end=data["end"],
                    return_start=data["return_start"],
                    return_end=data["return_end"],
                    reason=data["reason"],
                    created_by=request.user,
                )
            else:
                made = [
                    schedule_override_create(
                        schedule=schedule,
                        user=data["user"],
                        start=data["start"],
                        end=data["end"],
                        replaces=data["replaces"],
                        reason=data["reason"],
                        created_by=request.user,
                    )
                ]
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response({"overrides": [override_json(o) for o in made]}, status=201)


class ScheduleOverrideDetailApi(APIView):
    """DELETE an override: managers, whoever made it, and the person it puts on call."""

    def delete(self, request, pk: int, override_id: int):
        schedule = _schedule_for(request, pk)
        override = schedule.overrides.filter(pk=override_id).first()
        if override is None:
            raise Http404("no such override")
        mine = request.user.pk in (override.created_by_id, override.user_id)
        allowed = mine and schedule_user_may_override(user=request.user, schedule=schedule)
        if not allowed and not user_is_manager(user=request.user):
            raise PermissionDenied("only managers remove other people's overrides")
        schedule_override_delete(override=override)
        return Response(status=204)


class FirstRendererNegotiation(BaseContentNegotiation):
    """Errors are always JSON, whatever a calendar client's Accept asks for; a calendar itself
    is returned as an HttpResponse and never goes through a renderer."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _days(request) -> int:
    raw = request.query_params.get("days", str(ICAL_DAYS))
    # isdecimal, not isdigit: int() refuses "²".
    if not raw.isdecimal() or not 1 <= int(raw) <= 366:
        raise serializers.ValidationError({"days": "a whole number of days from 1 to 366"})
    return int(raw)


def calendar_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


class ScheduleIcalApi(APIView):
    """The schedule's shifts for the next `days` days (default 60) as text/calendar."""

    content_negotiation_class = FirstRendererNegotiation

    def get(self, request, pk: int):
        schedule = _schedule_for(request, pk)
        text = schedule_ical(schedule=schedule, days=_days(request))
        return calendar_response(text, f"schedule-{schedule.pk}.ics")


class UserIcalApi(APIView):
    """Every shift of one person on the schedules you may see, as text/calendar."""

    content_negotiation_class = FirstRendererNegotiation

    def get(self, request, pk: int):
        user = get_user_model().objects.filter(pk=pk, is_active=True).first()
        if user is None:
            raise Http404("no such user")
        text = user_ical(user=user, viewer=request.user, days=_days(request))
        return calendar_response(text, f"oncall-{user.get_username()}.ics")


class CalendarParser(BaseParser):
    """A raw text/calendar body, handed over as bytes."""

    media_type = "text/calendar"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read(MAX_ICS_BYTES + 1) if stream else b""


class ScheduleImportApi(APIView):
    """POST an .ics file (multipart field `file`, or a text/calendar body): its events become
    overrides. All or nothing; a file we cannot read is a 400 saying where and why."""

    parser_classes = [CalendarParser, MultiPartParser, FormParser]

    def post(self, request, pk: int):
        schedule = _schedule_for(request, pk)
        _may_override(request, schedule)
        data = request.data
        if isinstance(data, bytes):
            raw = data
        elif upload := request.FILES.get("file"):
            raw = upload.read(MAX_ICS_BYTES + 1)
        else:
            return _bad_calendar(
                "send the .ics file as the multipart field 'file' or as a text/calendar body"
            )
        if len(raw) > MAX_ICS_BYTES:
            return _bad_calendar(f"the file is over {MAX_ICS_BYTES // 1024} KiB")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _bad_calendar("the file is not UTF-8 text")
        try:
            result = schedule_import_ical(schedule=schedule, text=text, created_by=request.user)
        except CalendarError as exc:
            return _bad_calendar(str(exc))
        except DjangoValidationError as exc:
            return _bad_calendar(" ".join(exc.messages))
        return Response(
            {
                "created": len(result.created),
                "updated": len(result.updated),
                "skipped": result.skipped,
                "overrides": [override_json(o) for o in [*result.created, *result.updated]],
            }
        )


def _bad_calendar(message: str) -> Response:
    return Response({"error": f"cannot import this calendar: {message}"}, status=400)


class TeamOncallApi(APIView):
    """{"now": [...], "next": [...]} for a team, across its schedules."""

    def get(self, request, slug: str):
        try:
            team = team_get_visible(user=request.user, slug=slug)
        except Team.DoesNotExist as exc:
            raise Http404("no such team") from exc
        at = timezone.now()
        oncall = team_oncall(team=team, at=at)
        return Response(
            {
                "team": team.slug,
                "at": at.isoformat(),
                **{key: [entry.as_json() for entry in oncall[key]] for key in ("now", "next")},
            }
        )


# --- contact methods and personal notification rules ---------------------------------------


def _person_for(request, pk: int):
    try:
        return user_get_for_contacts(viewer=request.user, pk=pk)
    except get_user_model().DoesNotExist as exc:
        raise Http404("no such user") from exc


class ContactMethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactMethod
        fields = ["id", "kind", "address", "label", "verified", "created_at"]
        read_only_fields = ["id", "created_at"]


class ContactMethodChangeSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)
    verified = serializers.BooleanField(required=False)


def _may_verify(request, data: dict) -> None:
    # Nothing verifies addresses yet; until then only a manager vouches for one.
    if data.get("verified") and not user_is_manager(user=request.user):
        raise PermissionDenied("only managers mark a contact method verified")


class ContactMethodListApi(generics.ListCreateAPIView):
    """A person's contact methods: their own, or anyone's for a manager."""

    serializer_class = ContactMethodSerializer

    def get_queryset(self):
        return contact_method_list_for(user=_person_for(self.request, self.kwargs["pk"]))

    def create(self, request, *args, **kwargs):
        person = _person_for(request, kwargs["pk"])
        given = ContactMethodSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        _may_verify(request, given.validated_data)
        try:
            method = contact_method_create(user=person, **given.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(ContactMethodSerializer(method).data, status=201)


class ContactMethodDetailApi(APIView):
    def _method(self, request, pk: int, item_id: int) -> ContactMethod:
        person = _person_for(request, pk)
        method = contact_method_list_for(user=person).filter(pk=item_id).first()
        if method is None:
            raise Http404("no such contact method")
        return method

    def get(self, request, pk: int, item_id: int):
        return Response(ContactMethodSerializer(self._method(request, pk, item_id)).data)

    def patch(self, request, pk: int, item_id: int):
        method = self._method(request, pk, item_id)
        given = ContactMethodChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        _may_verify(request, given.validated_data)
        try:
            method = contact_method_update(contact_method=method, **given.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(ContactMethodSerializer(method).data)

    def delete(self, request, pk: int, item_id: int):
        contact_method_delete(contact_method=self._method(request, pk, item_id))
        return Response(status=204)


class NotificationRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationRule
        fields = ["id", "contact_method", "delay_minutes", "urgency", "position"]
        read_only_fields = ["id"]
        extra_kwargs = {"position": {"required": False}}

    def __init__(self, *args, person=None, **kwargs):
        super().__init__(*args, **kwargs)
        if person is not None:
            # Another person's method is "no such method", not a hint that it exists.
            self.fields["contact_method"].queryset = contact_method_list_for(user=person)


class NotificationRuleListApi(generics.ListCreateAPIView):
    """A person's notification rules, in order of delay. With none, paging uses the default:
    in-app and email methods at once (docs/schedules.md)."""

    serializer_class = NotificationRuleSerializer

    def get_queryset(self):
        return notification_rule_list_for(user=_person_for(self.request, self.kwargs["pk"]))

    def create(self, request, *args, **kwargs):
        person = _person_for(request, kwargs["pk"])
        given = NotificationRuleSerializer(data=request.data, person=person)
        given.is_valid(raise_exception=True)
        try:
            rule = notification_rule_create(user=person, **given.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(NotificationRuleSerializer(rule).data, status=201)


class NotificationRuleDetailApi(APIView):
    def _rule(self, request, pk: int, item_id: int) -> tuple[Any, NotificationRule]:
        person = _person_for(request, pk)
        rule = notification_rule_list_for(user=person).filter(pk=item_id).first()
        if rule is None:
            raise Http404("no such notification rule")
        return person, rule

    def get(self, request, pk: int, item_id: int):
        return Response(NotificationRuleSerializer(self._rule(request, pk, item_id)[1]).data)

    def patch(self, request, pk: int, item_id: int):
        person, rule = self._rule(request, pk, item_id)
        given = NotificationRuleSerializer(rule, data=request.data, partial=True, person=person)
        given.is_valid(raise_exception=True)
        try:
            rule = notification_rule_update(rule=rule, **given.validated_data)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(NotificationRuleSerializer(rule).data)

    def delete(self, request, pk: int, item_id: int):
        notification_rule_delete(rule=self._rule(request, pk, item_id)[1])
        return Response(status=204)
