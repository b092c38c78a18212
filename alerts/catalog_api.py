"""The service catalog's two thin interfaces onto alerts/catalog.py: the REST API (under
/api/v1/services/) and the browser pages (/services/).

Reading is for everyone signed in who may see the service (IOC staff and managers: all of them;
a member of an outside team: those his team owns); writing is for managers. API: anonymous or a
bad token 401, not visible 404, visible but not allowed 403 (logged by ioc.api). Pages: the
inline owner and tier edit is an htmx POST answered with the fragment it changed; a refusal
(403) and refused input (400) come back as that fragment with the reason in it.
"""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from rest_framework import generics, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ioc.api import IsManagerOrReadOnly, invalid
from teams.models import Team
from teams.selectors import team_ids_visible_to, team_list_visible_to, user_is_manager

from .catalog import (
    CSV_MAX_BYTES,
    TIER_MAX,
    TIER_MIN,
    catalog_depends_on_transitively,
    catalog_export,
    catalog_export_csv,
    catalog_import,
    catalog_import_csv,
    dependency_add,
    dependency_remove,
    service_create,
    service_delete,
    service_dependencies,
    service_dependencies_set,
    service_get_for_user,
    service_list_for_user,
    service_recent_alerts,
    service_update,
)
from .models import Service
from .selectors import alert_list_for_user

log = logging.getLogger(__name__)


def _service_for(request, pk: int) -> Service:
    try:
        return service_get_for_user(user=request.user, pk=pk)
    except Service.DoesNotExist as exc:
        raise Http404("no such service") from exc


# --- REST API ----------------------------------------------------------------------------------


class ServiceSerializer(serializers.ModelSerializer):
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    depends_on_count = serializers.IntegerField(read_only=True)
    dependents_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "kind",
            "owner_team",
            "tier",
            "description",
            "discovered",
            "first_seen",
            "last_alert_at",
            "updated_at",
            "depends_on_count",
            "dependents_count",
        ]


class ServiceInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=Service.Kind.values, required=False)
    owner_team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), allow_null=True, required=False
    )
    tier = serializers.IntegerField(
        min_value=TIER_MIN, max_value=TIER_MAX, allow_null=True, required=False
    )
    description = serializers.CharField(allow_blank=True, trim_whitespace=False, required=False)
    depends_on = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=10000
    )

    def validate_name(self, name: str) -> str:
        if self.partial:
            raise serializers.ValidationError(
                "A service's name cannot change: alerts find their service by its name."
            )
        return name

    def validate_depends_on(self, names: list[str]) -> list[Service]:
        found = {s.name: s for s in Service.objects.filter(name__in=names)}
        missing = sorted(set(names) - set(found))
        if missing:
            raise serializers.ValidationError(f"No such service: {', '.join(missing)}.")
        return list(found.values())


def _detail(service: Service) -> dict:
    data = ServiceSerializer(service).data
    depends_on, dependents = service_dependencies(service=service)
    data["depends_on"] = [s.name for s in depends_on]
    data["dependents"] = [s.name for s in dependents]
    data["upstream"] = sorted(catalog_depends_on_transitively(name=service.name))
    return data


class ServiceListCreateApi(generics.ListCreateAPIView):
    """GET: the services you may see (?owner=<slug>, ?unowned=1, ?kind=, ?q=); POST: add one."""

    serializer_class = ServiceSerializer
    permission_classes = [IsManagerOrReadOnly]

    def get_queryset(self):
        params = self.request.query_params
        kind = params.get("kind", "")
        if kind and kind not in Service.Kind.values:
            raise serializers.ValidationError({"kind": f"one of {', '.join(Service.Kind.values)}"})
        return service_list_for_user(
            user=self.request.user,
            q=params.get("q", "").strip(),
            owner=params.get("owner", ""),
            unowned=params.get("unowned", "") in ("1", "true", "yes"),
            kind=kind,
        )

    def create(self, request, *args, **kwargs):
        serializer = ServiceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        depends_on = data.pop("depends_on", [])
        try:
            with transaction.atomic():
                service = service_create(**data, actor=request.user, via="api")
                if depends_on:
                    service_dependencies_set(
                        service=service, depends_on=depends_on, actor=request.user, via="api"
                    )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(_detail(_service_for(request, service.pk)), status=201)


class ServiceDetailApi(APIView):
    """GET with `depends_on`, `dependents` and the transitive `upstream`; PATCH any of kind,
    owner_team, tier, description, depends_on (the whole list); DELETE."""

    permission_classes = [IsManagerOrReadOnly]

    def get(self, request, pk: int):
        return Response(_detail(_service_for(request, pk)))

    def patch(self, request, pk: int):
        service = _service_for(request, pk)
        serializer = ServiceInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        depends_on = data.pop("depends_on", None)
        try:
            with transaction.atomic():
                service_update(service=service, **data, actor=request.user, via="api")
                if depends_on is not None:
                    service_dependencies_set(
                        service=service, depends_on=depends_on, actor=request.user, via="api"
                    )
        except DjangoValidationError as exc:
            raise invalid(exc) from exc
        return Response(_detail(_service_for(request, pk)))

    def delete(self, request, pk: int):
        service_delete(service=_service_for(request, pk), actor=request.user, via="api")
        return Response(status=204)


class CsvParser(BaseParser):
    """A text/csv body, handed over as text."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(CSV_MAX_BYTES + 1) if stream else b""
        if len(raw) > CSV_MAX_BYTES:
            raise serializers.ValidationError({"file": f"at most {CSV_MAX_BYTES // 2**20} MiB"})
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise serializers.ValidationError({"file": "the CSV is not UTF-8 text"}) from exc


class ServiceImportApi(APIView):
    """POST {"services": [...], "dependencies": [...]} as JSON, or one CSV as text/csv. All or
    nothing: 200 with what changed (re-importing the same file: "changes": 0), or 400 with the
    errors by row and nothing written."""

    permission_classes = [IsManagerOrReadOnly]
    parser_classes = [JSONParser, CsvParser]

    def post(self, request):
        data = request.data
        if isinstance(data, str):
            result = catalog_import_csv(text=data, actor=request.user, via="api")
        elif isinstance(data, dict) and data.keys() <= {"services", "dependencies"}:
            services, dependencies = data.get("services", []), data.get("dependencies", [])
            if not isinstance(services, list) or not isinstance(dependencies, list):
                return _bad_import('"services" and "dependencies" are lists')
            result = catalog_import(
                rows=services, dependencies=dependencies, actor=request.user, via="api"
            )
        else:
            return _bad_import(
                'send {"services": [...], "dependencies": [...]} as JSON, or a text/csv body'
            )
        if not result.ok:
            body = result.as_json()
            return Response(
                {"error": f"nothing imported: {len(result.errors)} errors", **body}, status=400
            )
        return Response(result.as_json())


def _bad_import(message: str) -> Response:
    return Response({"error": f"cannot import this: {message}"}, status=400)


class JsonOnlyNegotiation(BaseContentNegotiation):
    """`?format=csv` is this API's own switch, not DRF's renderer override; errors stay JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ServiceExportApi(APIView):
    """GET the catalog you may see as JSON (the import's shape), or with ?format=csv (or
    Accept: text/csv) as the CSV the import reads."""

    content_negotiation_class = JsonOnlyNegotiation

    def get(self, request):
        team_ids = team_ids_visible_to(user=request.user)
        wants_csv = request.query_params.get("format") == "csv" or (
            "text/csv" in request.headers.get("Accept", "")
        )
        if wants_csv:
            response = HttpResponse(
                catalog_export_csv(team_ids=team_ids), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = 'attachment; filename="service-catalog.csv"'
            return response
        return Response(catalog_export(team_ids=team_ids))


# --- pages -------------------------------------------------------------------------------------

PAGE_SIZE = 100


def _owner_fragment(request, service: Service, *, error: str = "", notice: str = "", status=200):
    context = {
        "service": service,
        "is_manager": user_is_manager(user=request.user),
        "teams": team_list_visible_to(user=request.user).order_by("name"),
        "tiers": range(TIER_MIN, TIER_MAX + 1),
        "error": error,
        "notice": notice,
    }
    return render(request, "alerts/_service_owner.html", context, status=status)


def _dependencies_fragment(request, service: Service, *, error: str = "", status: int = 200):
    depends_on, dependents = service_dependencies(service=service)
    context = {
        "service": service,
        "depends_on": depends_on,
        "dependents": dependents,
        "upstream": sorted(catalog_depends_on_transitively(name=service.name)),
        "is_manager": user_is_manager(user=request.user),
        "error": error,
    }
    return render(request, "alerts/_service_dependencies.html", context, status=status)


def _refused(request, service: Service, what: str) -> bool:
    if user_is_manager(user=request.user):
        return False
    log.warning("user %s refused: %s on service %s", request.user.pk, what, service.pk)
    return True


@require_GET
def service_catalog_view(request):
    kind = request.GET.get("kind", "")
    filters = {
        "q": request.GET.get("q", "").strip(),
        "owner": request.GET.get("owner", ""),
        "kind": kind if kind in Service.Kind.values else "",
        "unowned": request.GET.get("unowned") == "1",
    }
    services = service_list_for_user(user=request.user, **filters)
    page = Paginator(services, PAGE_SIZE).get_page(request.GET.get("page"))
    everything = service_list_for_user(user=request.user)
    context = {
        "page": page,
        "filters": filters,
        "total": everything.count(),
        "unowned_total": everything.filter(owner_team__isnull=True).count(),
        "kinds": Service.Kind.choices,
        "teams": team_list_visible_to(user=request.user).order_by("name"),
        "tiers": range(TIER_MIN, TIER_MAX + 1),
        "is_manager": user_is_manager(user=request.user),
    }
    return render(request, "alerts/catalog.html", context)


@require_GET
def service_detail_view(request, pk: int):
    service = _service_for(request, pk)
    depends_on, dependents = service_dependencies(service=service)
    context = {
        "service": service,
        "depends_on": depends_on,
        "dependents": dependents,
        "upstream": sorted(catalog_depends_on_transitively(name=service.name)),
        "alerts": service_recent_alerts(
            service=service, alerts=alert_list_for_user(user=request.user)
        ),
        "is_manager": user_is_manager(user=request.user),
        "teams": team_list_visible_to(user=request.user).order_by("name"),
        "tiers": range(TIER_MIN, TIER_MAX + 1),
    }
    return render(request, "alerts/service.html", context)


def _team_or_none(raw: str) -> Team | None:
    if not raw:
        return None
    team = Team.objects.filter(pk=int(raw)).first() if raw.isdecimal() else None
    if team is None:
        raise DjangoValidationError({"owner_team": "No such team."})
    return team


def _tier_or_none(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdecimal():
        raise DjangoValidationError({"tier": f"A tier from {TIER_MIN} to {TIER_MAX}."})
    return int(raw)


@require_POST
def service_owner_edit_view(request, pk: int):
    """Set the owner team and/or the tier (whichever the form sends)."""
    service = _service_for(request, pk)
    if _refused(request, service, "set owner and tier"):
        error = "Only managers change a service's owner and tier."
        return _owner_fragment(request, service, error=error, status=403)
    try:
        changes = {}
        if "owner_team" in request.POST:
            changes["owner_team"] = _team_or_none(request.POST["owner_team"])
        if "tier" in request.POST:
            changes["tier"] = _tier_or_none(request.POST["tier"])
        service_update(service=service, **changes, actor=request.user, via="web")
    except DjangoValidationError as exc:
        return _owner_fragment(request, service, error=" ".join(exc.messages), status=400)
    if not request.htmx:
        return redirect("service-detail", pk=service.pk)
    return _owner_fragment(request, service, notice="Saved.")


@require_POST
def service_dependency_add_view(request, pk: int):
    service = _service_for(request, pk)
    if _refused(request, service, "add a dependency"):
        error = "Only managers change dependencies."
        return _dependencies_fragment(request, service, error=error, status=403)
    name = request.POST.get("depends_on", "").strip()
    other = Service.objects.filter(name=name).first() if name else None
    try:
        if other is None:
            raise DjangoValidationError({"depends_on": f"No service {name!r} in the catalog."})
        dependency_add(service=service, depends_on=other, actor=request.user, via="web")
    except DjangoValidationError as exc:
        return _dependencies_fragment(request, service, error=" ".join(exc.messages), status=400)
    if not request.htmx:
        return redirect("service-detail", pk=service.pk)
    return _dependencies_fragment(request, service)


@require_POST
def service_dependency_remove_view(request, pk: int, other_id: int):
    service = _service_for(request, pk)
    if _refused(request, service, "remove a dependency"):
        error = "Only managers change dependencies."
        return _dependencies_fragment(request, service, error=error, status=403)
    other = Service.objects.filter(pk=other_id).first()
    if other is None:
        raise Http404("no such service")
    dependency_remove(service=service, depends_on=other, actor=request.user, via="web")
    if not request.htmx:
        return redirect("service-detail", pk=service.pk)
    return _dependencies_fragment(request, service)
