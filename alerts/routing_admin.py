"""Routing rules in the admin, and the routing tester: paste a sample payload (or pick a recent
delivery) and see, for each alert it carries, which route matches and why.

The form checks a route with the same rules as the API (routing.route_clean); the tester calls
the same service as `POST /api/v1/routes/test/` (routing.routing_test).
"""

from functools import cache

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import path

from .models import InboundEvent, Integration, Route
from .routing import (
    EDITABLE,
    RoutingTestError,
    route_clean,
    route_defaults_clear,
    routes_cache_clear,
    routing_test,
)
from .sources import KINDS

MATCHERS_HELP = (
    'A JSON list; all must hold. [{"field": "labels.env", "op": "=", "value": "prod"}, '
    '{"field": "service", "op": "=~", "value": "pay.*"}]. Fields: name, summary, description, '
    "severity, source, service, status, integration (its id), kind, team (the integration's "
    "team's slug) or labels.<name>. Ops: = != =~ !~ (regular expressions match the whole value) "
    "exists absent. A missing field counts as empty. Empty list: every alert. A default route "
    "has none."
)
RECENT_DELIVERIES = 50

CHANGE_LIST = """{% extends "admin/change_list.html" %}
{% block object-tools-items %}
  <li><a href="{% url 'admin:alerts_route_test' %}">Test routing</a></li>
  {{ block.super }}
{% endblock %}"""

TESTER = """{% extends "admin/base_site.html" %}
{% block breadcrumbs %}<div class="breadcrumbs">
  <a href="{% url 'admin:index' %}">Home</a> &rsaquo;
  <a href="{% url 'admin:app_list' app_label=opts.app_label %}">
    {{ opts.app_config.verbose_name }}</a> &rsaquo;
  <a href="{% url 'admin:alerts_route_changelist' %}">
    {{ opts.verbose_name_plural|capfirst }}</a> &rsaquo; Test routing
</div>{% endblock %}
{% block content %}
<p>Paste a sample payload and pick the integration whose parser reads it, or pick one of the
{{ recent }} most recent deliveries. Nothing is stored.</p>
<form method="post" id="routing-test">{% csrf_token %}
  <table>{{ form.as_table }}</table>
  <div class="submit-row"><input type="submit" class="default" value="Test routing"></div>
</form>
{% if error %}<p class="errornote" id="routing-error">{{ error }}</p>{% endif %}
{% if ignored %}
  <p id="routing-ignored">The parser ignores this payload: {{ ignored }}</p>
{% elif result is not None and not result %}<p>The payload carries no alerts.</p>{% endif %}
{% for item in result %}{% with d=item.decision f=item.fields %}
<div class="module routing-alert">
  <h2>{{ f.name|default:f.summary|default:"(unnamed alert)" }}:
    {{ f.status }}, {{ f.severity }}</h2>
  <p>service <code>{{ f.service|default:"-" }}</code>
    &middot; source <code>{{ f.source|default:"-" }}</code> &middot; labels
    {% for k, v in f.labels.items %}<code>{{ k }}={{ v }}</code> {% empty %}none{% endfor %}</p>
  <p class="routing-decision"><strong>{% if d.matched %}Matched:
    {% for m in d.matched %}{{ m.name }}{% if not forloop.last %} &rarr; {% endif %}{% endfor %}
    {% else %}No route matched: the integration's team and its default policy.{% endif %}
  </strong><br>
  Team: {{ d.team|default:"-" }} (from {{ d.team_from }}) &middot;
  Escalation policy: {{ d.escalation_policy_name|default:"the team's default" }} &middot;
  Severity: {{ d.severity_override|default:"from the alert" }} &middot;
  Group by {{ d.group_by|join:", " }}, window {{ d.group_window_minutes }} min,
  wait {{ d.group_wait_seconds }} s</p>
  <table><thead><tr><th>route</th><th>result</th><th>why</th></tr></thead><tbody>
  {% for t in d.reasons %}<tr>
    <td>{{ t.name }}</td>
    <td>{% if t.matched %}&#10003; {{ t.note }}{% else %}&#10007; no match{% endif %}</td>
    <td>{% for reason in t.reasons %}{{ reason }}<br>{% endfor %}</td></tr>
  {% empty %}<tr><td colspan="3">No routes apply to this integration.</td></tr>{% endfor %}
  </tbody></table>
</div>
{% endwith %}{% endfor %}
{% endblock %}"""


@cache
def _template(source: str):
    return engines["django"].from_string(source)


class RouteForm(forms.ModelForm):
    class Meta:
        model = Route
        fields = list(EDITABLE)
        help_texts = {
            "matchers": MATCHERS_HELP,
            "position": "Lower first: the integration's routes, then the global ones, then the "
            "integration's default.",
            "continue_matching": "After matching, go on to later routes: they fill in what this "
            "one leaves unset (the first route to set a setting wins).",
            "severity_override": "SEV1, SEV2, SEV3 or SEV4; empty: from the alert's severity.",
            "group_by": 'Fields or labels.<name>, e.g. ["service", "name"] (empty: that).',
        }

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {name: data.get(name) for name in EDITABLE}
        # An emptied JSON box arrives as None; the columns want a list.
        values["matchers"] = values["matchers"] or []
        values["group_by"] = values["group_by"] or []
        try:
            data.update(route_clean(values))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        return data


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin):
    form = RouteForm
    list_display = [
        "name",
        "integration_shown",
        "position",
        "is_default",
        "team",
        "escalation_policy",
        "severity_override",
        "continue_matching",
        "enabled",
        "matchers_shown",
    ]
    list_filter = ["integration", "is_default", "enabled", "continue_matching", "team"]
    search_fields = ["name"]
    list_select_related = ["integration", "team", "escalation_policy"]
    ordering = ["integration__name", "is_default", "position", "id"]
    readonly_fields = ["created_by", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", ("integration", "position"), ("enabled", "is_default")]}),
        ("Which alerts", {"fields": ["matchers", "continue_matching"]}),
        (
            "Where they go",
            {"fields": [("team", "use_service_owner"), "escalation_policy", "severity_override"]},
        ),
        (
            "Grouping",
            {"fields": ["group_by", ("group_window_minutes", "group_wait_seconds")]},
        ),
        (None, {"fields": [("created_by", "updated_at")]}),
    ]

    @property
    def change_list_template(self):
        return _template(CHANGE_LIST)

    @admin.display(description="integration", ordering="integration__name")
    def integration_shown(self, route):
        return route.integration or "— global —"

    @admin.display(description="matchers")
    def matchers_shown(self, route):
        if route.is_default:
            return "(default: the rest)"
        from .matchers import MatcherError, compile_matchers

        try:
            return compile_matchers(route.matchers).describe()
        except MatcherError as exc:
            return f"invalid: {exc}"

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if obj.is_default:
                route_defaults_clear(integration=obj.integration, keep=obj)
            if not change:
                obj.created_by = request.user
            super().save_model(request, obj, form, change)
        routes_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        routes_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        routes_cache_clear()

    def get_urls(self):
        tester = path("test/", self.admin_site.admin_view(self.test_view), name="alerts_route_test")
        return [tester, *super().get_urls()]

    def test_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RoutingTestForm(request.POST or None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Test routing",
            "form": form,
            "recent": RECENT_DELIVERIES,
            "result": None,
        }
        if request.method == "POST" and form.is_valid():
            try:
                outcome = routing_test(**form.sample())
            except RoutingTestError as exc:
                context["error"] = str(exc)
            else:
                context["result"], context["ignored"] = outcome.alerts, outcome.ignored
        return TemplateResponse(request, _template(TESTER), context)


class DeliveryChoice(forms.ModelChoiceField):
    def label_from_instance(self, delivery):
        return (
            f"#{delivery.pk} · {delivery.integration.name} · "
            f"{delivery.received_at:%Y-%m-%d %H:%M:%S} · {delivery.status}"
        )


class RoutingTestForm(forms.Form):
    integration = forms.ModelChoiceField(
        queryset=Integration.objects.select_related("team").order_by("name"),
        required=False,
        help_text="Its parser reads the payload, and its routes apply.",
    )
    content_type = forms.ChoiceField(
        choices=[
            ("application/json", "JSON"),
            ("application/x-www-form-urlencoded", "form fields (a=1&b=2)"),
        ],
        initial="application/json",
    )
    payload = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "cols": 100, "spellcheck": "false"}),
        required=False,
        help_text="The body as the tool sends it.",
    )
    headers = forms.JSONField(
        required=False,
        help_text='Optional, a JSON object, e.g. {"X-Event": "alert"}: a few sources read them.',
    )
    delivery = DeliveryChoice(
        queryset=InboundEvent.objects.none(),
        required=False,
        help_text="Or a stored delivery (this replaces the fields above).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A sliced queryset cannot validate a choice, so take the ids of the recent ones.
        recent = InboundEvent.objects.order_by("-received_at").values_list("pk", flat=True)
        self.fields["delivery"].queryset = (
            InboundEvent.objects.filter(pk__in=list(recent[:RECENT_DELIVERIES]))
            .select_related("integration")
            .order_by("-received_at")
        )

    def clean(self):
        data = super().clean()
        headers = data.get("headers")
        if headers is not None and not isinstance(headers, dict):
            self.add_error("headers", "a JSON object of header: value")
        if not data.get("delivery"):
            if not data.get("integration"):
                self.add_error("integration", "pick the integration, or a delivery")
            elif data["integration"].kind not in KINDS:
                self.add_error("integration", "this integration's kind has no parser")
            if not (data.get("payload") or "").strip():
                self.add_error("payload", "paste a payload, or pick a delivery")
        return data

    def sample(self) -> dict:
        """The arguments of routing_test for what was given."""
        data = self.cleaned_data
        if delivery := data.get("delivery"):
            return {
                "integration": Integration.objects.select_related("team").get(
                    pk=delivery.integration_id
                ),
                "body": delivery.body,
                "content_type": delivery.content_type,
                "headers": delivery.headers,
            }
        return {
            "integration": data["integration"],
            "body": data["payload"],
            "content_type": data["content_type"],
            "headers": {str(k): str(v) for k, v in (data.get("headers") or {}).items()},
        }
