"""REST API for the records around incidents: checklists, postmortems, shift hand-over notes.

Thin: serializers check the shape of the input, services do the work. Not visible -> 404;
visible but not allowed -> 403 (logged by ioc.api); a state that forbids the action -> 409.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc.api import invalid

from .api import TimelineEventSerializer
from .checklists import (
    checklist_for_incident,
    checklist_item_add,
    checklist_item_assign,
    checklist_item_get,
    checklist_item_set_done,
)
from .handover import (
    HandoverAlreadyAcknowledged,
    HandoverOwnNote,
    shift_handover_acknowledge,
    shift_handover_create,
    shift_handover_get_for_user,
    shift_handover_incidents_for,
    shift_handover_list_for_user,
    shift_handover_user_may_read,
    shift_handover_user_may_write,
    shift_handover_visible_team_slugs,
)
from .models import Incident, Via
from .postmortems import (
    PostmortemConflict,
    action_item_add,
    action_item_get,
    action_item_set_done,
    action_item_update,
    postmortem_action_items,
    postmortem_block_reason,
    postmortem_for_incident,
    postmortem_markdown,
    postmortem_publish,
    postmortem_start,
    postmortem_timeline,
    postmortem_update,
)
from .records import ActionItem, ChecklistItem, Postmortem, ShiftHandover
from .selectors import incident_get_for_user_or_404, incident_user_may_act


def _active_user_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.filter(is_active=True),
        **kwargs,
    )


def _username_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


def _conflict(exc: Exception) -> Response:
    return Response({"error": str(exc)}, status=409)


def _incident_to_act_on(request, pk: int) -> Incident:
    incident = incident_get_for_user_or_404(user=request.user, pk=pk)
    if not incident_user_may_act(user=request.user, incident=incident):
        raise PermissionDenied("you may not act on this incident")
    return incident


# --- checklists ----------------------------------------------------------------------------


class ChecklistItemSerializer(serializers.ModelSerializer):
    runbook = serializers.SlugRelatedField(source="template", slug_field="name", read_only=True)
    assignee = _username_field()
    done = serializers.SerializerMethodField()
    done_by = _username_field()

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "position",
            "title",
            "link",
            "runbook",
            "assignee",
            "done",
            "done_at",
            "done_by",
        ]

    def get_done(self, item) -> bool:
        return item.done_at is not None


class ChecklistItemAddSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500)
    link = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    assignee = _active_user_field(required=False, allow_null=True, default=None)


class ChecklistItemChangeSerializer(serializers.Serializer):
    done = serializers.BooleanField(required=False)
    assignee = _active_user_field(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("give done and/or assignee")
        return attrs


class ChecklistApi(APIView):
    def get(self, request, pk: int):
        incident = incident_get_for_user_or_404(user=request.user, pk=pk)
        items = checklist_for_incident(incident=incident)
        return Response({"results": ChecklistItemSerializer(items, many=True).data})

    def post(self, request, pk: int):
        incident = _incident_to_act_on(request, pk)
        given = ChecklistItemAddSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            item = checklist_item_add(
                incident=incident, actor=request.user, via=Via.API, **given.validated_data
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(ChecklistItemSerializer(item).data, status=201)


class ChecklistItemApi(APIView):
    def _item(self, incident: Incident, item_id: int) -> ChecklistItem:
        try:
            return checklist_item_get(incident=incident, pk=item_id)
        except ChecklistItem.DoesNotExist as exc:
            raise Http404("no such checklist item") from exc

    def get(self, request, pk: int, item_id: int):
        item = self._item(incident_get_for_user_or_404(user=request.user, pk=pk), item_id)
        return Response(ChecklistItemSerializer(item).data)

    def patch(self, request, pk: int, item_id: int):
        incident = _incident_to_act_on(request, pk)
        item = self._item(incident, item_id)
        given = ChecklistItemChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = given.validated_data
        try:
            # Both changes or neither: a refused assignee must not leave a half-applied PATCH.
            with transaction.atomic():
                if "done" in changes:
                    item = checklist_item_set_done(
                        item=item, done=changes["done"], actor=request.user, via=Via.API
                    )
                if "assignee" in changes:
                    item = checklist_item_assign(
                        item=item, assignee=changes["assignee"], actor=request.user, via=Via.API
                    )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(ChecklistItemSerializer(self._item(incident, item.pk)).data)


# --- postmortems ---------------------------------------------------------------------------


class ActionItemSerializer(serializers.ModelSerializer):
    owner = _username_field()

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "done"]


class ActionItemAddSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500)
    owner = _active_user_field(required=False, allow_null=True, default=None)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class ActionItemChangeSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500, required=False)
    owner = _active_user_field(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    done = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("give title, owner, due_date and/or done")
        return attrs


class PostmortemSerializer(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident.number", read_only=True)
    created_by = _username_field()
    action_items = serializers.SerializerMethodField()
    timeline = serializers.SerializerMethodField()
    blocks_close = serializers.SerializerMethodField()

    class Meta:
        model = Postmortem
        fields = [
            "id",
            "incident",
            "state",
            "summary",
            "impact_customers",
            "impact_duration",
            "impact_services",
            "root_cause",
            "contributing_factors",
            "created_by",
            "created_at",
            "updated_at",
            "published_at",
            "action_items",
            "timeline",
            "blocks_close",
        ]

    def get_action_items(self, postmortem) -> list:
        items = postmortem_action_items(postmortem=postmortem)
        return ActionItemSerializer(items, many=True).data

    def get_timeline(self, postmortem) -> list:
        events = postmortem_timeline(incident=postmortem.incident)
        return TimelineEventSerializer(events, many=True).data

    def get_blocks_close(self, postmortem) -> str | None:
        return postmortem_block_reason(incident=postmortem.incident, postmortem=postmortem)


class PostmortemChangeSerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True)
    impact_customers = serializers.CharField(required=False, allow_blank=True)
    impact_duration = serializers.CharField(required=False, allow_blank=True, max_length=200)
    impact_services = serializers.CharField(required=False, allow_blank=True)
    root_cause = serializers.CharField(required=False, allow_blank=True)
    contributing_factors = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("give at least one of the postmortem's fields")
        return attrs


def _postmortem_or_404(incident: Incident) -> Postmortem:
    postmortem = postmortem_for_incident(incident=incident)
    if postmortem is None:
        raise Http404("no postmortem for this incident")
    return postmortem


def _postmortem_response(postmortem: Postmortem, status: int = 200) -> Response:
    postmortem = Postmortem.objects.select_related("incident", "created_by").get(pk=postmortem.pk)
    return Response(PostmortemSerializer(postmortem).data, status=status)


class PostmortemApi(APIView):
    def get(self, request, pk: int):
        incident = incident_get_for_user_or_404(user=request.user, pk=pk)
        return _postmortem_response(_postmortem_or_404(incident))

    def post(self, request, pk: int):
        incident = _incident_to_act_on(request, pk)
        try:
            postmortem = postmortem_start(incident=incident, actor=request.user, via=Via.API)
        except PostmortemConflict as exc:
            return _conflict(exc)
        return _postmortem_response(postmortem, status=201)

    def patch(self, request, pk: int):
        incident = _incident_to_act_on(request, pk)
        postmortem = _postmortem_or_404(incident)
        given = PostmortemChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            postmortem = postmortem_update(
                postmortem=postmortem, actor=request.user, via=Via.API, **given.validated_data
            )
        except PostmortemConflict as exc:
            return _conflict(exc)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return _postmortem_response(postmortem)


class PostmortemPublishApi(APIView):
    def post(self, request, pk: int):
        incident = _incident_to_act_on(request, pk)
        postmortem = _postmortem_or_404(incident)
        try:
            postmortem = postmortem_publish(postmortem=postmortem, actor=request.user, via=Via.API)
        except PostmortemConflict as exc:
            return _conflict(exc)
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return _postmortem_response(postmortem)


class ActionItemListApi(APIView):
    def get(self, request, pk: int):
        postmortem = _postmortem_or_404(incident_get_for_user_or_404(user=request.user, pk=pk))
        items = postmortem_action_items(postmortem=postmortem)
        return Response({"results": ActionItemSerializer(items, many=True).data})

    def post(self, request, pk: int):
        postmortem = _postmortem_or_404(_incident_to_act_on(request, pk))
        given = ActionItemAddSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            item = action_item_add(
                postmortem=postmortem, actor=request.user, via=Via.API, **given.validated_data
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(ActionItemSerializer(item).data, status=201)


class ActionItemApi(APIView):
    def patch(self, request, pk: int, item_id: int):
        postmortem = _postmortem_or_404(_incident_to_act_on(request, pk))
        try:
            item = action_item_get(postmortem=postmortem, pk=item_id)
        except ActionItem.DoesNotExist as exc:
            raise Http404("no such action item") from exc
        given = ActionItemChangeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        changes = given.validated_data
        try:
            with transaction.atomic():
                if {"title", "owner", "due_date"} & changes.keys():
                    item = action_item_update(
                        item=item,
                        title=changes.get("title", item.title),
                        owner=changes.get("owner", item.owner),
                        due_date=changes.get("due_date", item.due_date),
                        actor=request.user,
                        via=Via.API,
                    )
                if "done" in changes:
                    item = action_item_set_done(
                        item=item, done=changes["done"], actor=request.user, via=Via.API
                    )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(
            ActionItemSerializer(action_item_get(postmortem=postmortem, pk=item.pk)).data
        )


class PostmortemMarkdownApi(APIView):
    def get(self, request, pk: int):
        postmortem = _postmortem_or_404(incident_get_for_user_or_404(user=request.user, pk=pk))
        return markdown_response(postmortem)


def markdown_response(postmortem: Postmortem) -> HttpResponse:
    """The export as a download; shared with the browser view."""
    response = HttpResponse(
        postmortem_markdown(postmortem=postmortem), content_type="text/markdown; charset=utf-8"
    )
    number = postmortem.incident.number
    response["Content-Disposition"] = f'attachment; filename="postmortem-{number}.md"'
    return response


# --- shift hand-over -----------------------------------------------------------------------


class ShiftHandoverSerializer(serializers.ModelSerializer):
    author = _username_field()
    acknowledged_by = _username_field()
    open_incidents = serializers.SerializerMethodField()

    class Meta:
        model = ShiftHandover
        fields = [
            "id",
            "shift",
            "author",
            "created_at",
            "open_incidents",
            "done",
            "watch",
            "acknowledged_by",
            "acknowledged_at",
        ]

    def get_open_incidents(self, handover) -> list:
        # Computed once per response, not once per note.
        if "visible_team_slugs" not in self.context:
            user = self.context["request"].user
            self.context["visible_team_slugs"] = shift_handover_visible_team_slugs(user=user)
        return shift_handover_incidents_for(
            handover=handover, visible_team_slugs=self.context["visible_team_slugs"]
        )


class ShiftHandoverCreateSerializer(serializers.Serializer):
    shift = serializers.CharField(max_length=100)
    done = serializers.CharField(required=False, allow_blank=True, default="")
    watch = serializers.CharField(required=False, allow_blank=True, default="")


class ShiftHandoverListApi(generics.GenericAPIView):
    serializer_class = ShiftHandoverSerializer

    def get_queryset(self):
        return shift_handover_list_for_user(user=self.request.user)

    def get(self, request):
        if not shift_handover_user_may_read(user=request.user):
            raise PermissionDenied("shift hand-over notes are for the IOC floor")
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def post(self, request):
        if not shift_handover_user_may_write(user=request.user):
            raise PermissionDenied("only managers and members inside the IOC write hand-over notes")
        given = ShiftHandoverCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            handover = shift_handover_create(
                author=request.user, via=Via.API, **given.validated_data
            )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(self.get_serializer(handover).data, status=201)


def _handover_or_404(request, pk: int) -> ShiftHandover:
    try:
        return shift_handover_get_for_user(user=request.user, pk=pk)
    except ShiftHandover.DoesNotExist as exc:
        raise Http404("no such hand-over note") from exc


class ShiftHandoverDetailApi(APIView):
    def get(self, request, pk: int):
        handover = _handover_or_404(request, pk)
        return Response(ShiftHandoverSerializer(handover, context={"request": request}).data)


class ShiftHandoverAcknowledgeApi(APIView):
    def post(self, request, pk: int):
        handover = _handover_or_404(request, pk)
        if not shift_handover_user_may_write(user=request.user):
            raise PermissionDenied("observers may not acknowledge hand-over notes")
        try:
            handover = shift_handover_acknowledge(handover=handover, user=request.user, via=Via.API)
        except HandoverOwnNote as exc:
            raise PermissionDenied(str(exc)) from exc
        except HandoverAlreadyAcknowledged as exc:
            return _conflict(exc)
        handover = _handover_or_404(request, handover.pk)
        return Response(ShiftHandoverSerializer(handover, context={"request": request}).data)
