"""A core switch fails: about 500 alerts from about 200 hosts arrive within two minutes through
three sources (Alertmanager, Zabbix, CloudWatch), with duplicates and out-of-order resolves; the
first host alerts arrive 20-40 s before the switch's own alert. An unrelated disk alert on a
database host that does not depend on the switch arrives meanwhile. The floor must see a handful
of incidents, the switch one owned by the network team, and nobody else paged for the outage.

Deliveries go through the real webhook with each tool's own payload shape and are processed in
arrival order, as the workers would."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from alerts.catalog import catalog_import
from alerts.models import Alert, InboundEvent
from alerts.routing import route_create
from alerts.services import integration_create
from incidents import escalation_engine
from incidents.escalation_models import EscalationPolicy, EscalationStep, Notification
from incidents.models import Incident
from incidents.services import incidents_auto_resolve_due
from teams.models import ContactMethod
from teams.services import membership_set
from tests.base import post_alert, process

HOSTS = [f"app-{n:03d}" for n in range(1, 201)]
SWITCH = "core-sw-1"
T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def am_body(host: str, status: str, at: datetime) -> dict:
    alert = {
        "status": status,
        "labels": {
            "alertname": "InstanceDown",
            "instance": f"{host}:9100",
            "severity": "critical",
            "service": "payments-api",
            "job": "node",
        },
        "annotations": {"summary": f"{host} is unreachable"},
        "startsAt": at.isoformat(),
        "endsAt": (at + timedelta(minutes=5)).isoformat()
        if status == "resolved"
        else "0001-01-01T00:00:00Z",
        "fingerprint": f"fp-{host}",
    }
    return {
        "version": "4",
        "status": status,
        "receiver": "ioc",
        "groupKey": "{}:{}",
        "alerts": [alert],
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
    }


def zabbix_body(host: str, problem: bool, at: datetime) -> dict:
    trigger = str(10000 + HOSTS.index(host))
    return {
        "event_id": str(random.randint(1, 10**9)),
        "event_name": f"Unavailable by ICMP ping on {host}",
        "event_value": "1" if problem else "0",
        "event_status": "PROBLEM" if problem else "RESOLVED",
        "event_severity": "High",
        "event_nseverity": "4",
        "event_opdata": "",
        "event_tags": "",
        "event_recovery_id": "",
        "event_date": at.strftime("%Y.%m.%d"),
        "event_time": at.strftime("%H:%M:%S"),
        "trigger_id": trigger,
        "trigger_name": "Unavailable by ICMP ping",
        "host_name": host,
        "host_ip": "10.0.0.1",
        "host_groups": "Linux servers",
        "item_name": "ICMP ping",
        "item_value": "0",
        "item_key": "icmpping",
        "zabbix_url": "https://zabbix.example",
    }


def cloudwatch_body(host: str, alarm: bool, at: datetime) -> str:
    message = {
        "AlarmName": f"StatusCheckFailed-{host}",
        "AlarmDescription": "Instance status check",
        "AWSAccountId": "123456789012",
        "NewStateValue": "ALARM" if alarm else "OK",
        "NewStateReason": "Threshold Crossed",
        "StateChangeTime": at.isoformat(),
        "Region": "EU (Frankfurt)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:StatusCheckFailed-{host}",
        "OldStateValue": "OK" if alarm else "ALARM",
        "Trigger": {
            "MetricName": "StatusCheckFailed",
            "Namespace": "AWS/EC2",
            "Dimensions": [{"name": "InstanceId", "value": host}],
        },
    }
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(random.randint(1, 10**9)),
            "TopicArn": "arn:aws:sns:eu-central-1:123456789012:ioc",
            "Subject": f"ALARM: StatusCheckFailed-{host}",
            "Message": json.dumps(message),
            "Timestamp": at.isoformat().replace("+00:00", "Z"),
            "SignatureVersion": "1",
        }
    )


@pytest.fixture
def floor_with_topology(floor, settings):
    from django.contrib.auth import get_user_model

    from teams.services import team_create

    settings.IOC_SNS_VERIFY_SIGNATURES = False  # signatures are tested in test_sns.py
    settings.IOC_AUTO_RESOLVE_MINUTES = 5
    network = team_create(name="Network", slug="network", in_ioc=True)
    server = team_create(name="Server", slug="server", in_ioc=True)
    users = get_user_model().objects
    nina = users.create_user("nina", password="pw-nina-123")
    sam = users.create_user("sam", password="pw-sam-123")
    membership_set(user=nina, team=network)
    membership_set(user=sam, team=server)
    for user, team in ((nina, network), (sam, server), (floor.dave, floor.dba)):
        ContactMethod.objects.create(user=user, kind="email", address=f"{user.username}@x.org")
        policy = EscalationPolicy.objects.create(name=team.name, team=team, is_default=True)
        EscalationStep.objects.create(policy=policy, position=1, kind="notify_team")
    # The topology, as a site would import it: every app host hangs off the core switch; the
    # database host db-99 does not.
    imported = catalog_import(
        rows=[
            {"name": SWITCH, "kind": "network", "owner_team": "network"},
            {"name": "db-99", "kind": "database", "owner_team": "dba"},
            *({"name": host, "kind": "host", "owner_team": "server"} for host in HOSTS),
        ],
        dependencies=[[host, SWITCH] for host in HOSTS],
        actor=floor.admin,
        via="api",
    )
    assert imported.ok, imported.errors
    integrations = {
        kind: integration_create(name=kind, kind=kind, team=server)
        for kind in ("alertmanager", "zabbix", "cloudwatch")
    }
    network_integration = integration_create(name="Switch SNMP", kind="generic", team=network)
    dba_integration = integration_create(name="DB checks", kind="generic", team=floor.dba)
    # Host-down alerts group by alert name; the group wait holds paging for a minute.
    route_create(
        name="hosts down",
        matchers=[{"field": "source", "op": "=~", "value": "app-.*"}],
        team=server,
        group_by=["name"],
        group_wait_seconds=60,
    )
    return {
        "integrations": integrations,
        "network": network_integration,
        "dba": dba_integration,
        "teams": {"network": network, "server": server},
    }


def storm_events(rng: random.Random):
    """(seconds after T0, kind, host, firing) in arrival order."""
    events = []
    for host in HOSTS:
        first = rng.uniform(0, 110)
        events.append((first, "alertmanager", host, True))
        if rng.random() < 0.8:
            events.append((rng.uniform(0, 115), "zabbix", host, True))
        if rng.random() < 0.5:
            events.append((rng.uniform(0, 115), "cloudwatch", host, True))
        if rng.random() < 0.2:  # Alertmanager repeats itself
            events.append((first + rng.uniform(1, 5), "alertmanager", host, True))
    events.sort()
    # The first host alerts come 20-40 s before the switch's own alert.
    switch_at = events[0][0] + rng.uniform(20, 40)
    events.append((switch_at, "switch", SWITCH, True))
    events.append((60.0, "disk", "db-99", True))
    # Recovery: resolves in a shuffled order, some before their own duplicates settled.
    recovery = [
        (rng.uniform(130, 160), kind, host, False) for (_, kind, host, firing) in events if firing
    ]
    events.extend(recovery)
    events.sort(key=lambda e: e[0])
    return events


def deliver(client, setup, kind: str, host: str, firing: bool, at: datetime):
    if kind in ("alertmanager", "zabbix", "cloudwatch"):
        _, token = setup["integrations"][kind]
        if kind == "alertmanager":
            return post_alert(client, token, am_body(host, "firing" if firing else "resolved", at))
        if kind == "zabbix":
            return post_alert(client, token, zabbix_body(host, firing, at))
        return post_alert(
            client,
            token,
            cloudwatch_body(host, firing, at),
            content_type="text/plain; charset=UTF-8",
        )
    if kind == "switch":
        _, token = setup["network"]
        return post_alert(
            client,
            token,
            {
                "summary": f"{SWITCH} down: all uplinks lost",
                "name": "SwitchDown",
                "severity": "critical",
                "source": SWITCH,
                "dedup_key": SWITCH,
                "status": "firing" if firing else "resolved",
            },
        )
    _, token = setup["dba"]
    return post_alert(
        client,
        token,
        {
            "summary": "Disk 93% full on db-99",
            "name": "DiskFull",
            "severity": "high",
            "source": "db-99",
            "dedup_key": "db-99/disk",
            "status": "firing" if firing else "resolved",
        },
    )


def test_a_core_switch_outage_is_one_network_incident_and_pages_nobody_else(
    client, floor, floor_with_topology
):
    setup = floor_with_topology
    rng = random.Random(20261120)
    events = storm_events(rng)
    firing_count = sum(1 for e in events if e[3])
    assert 450 <= firing_count <= 600
    for n, (offset, kind, host, firing) in enumerate(events):
        response = deliver(client, setup, kind, host, firing, T0 + timedelta(seconds=offset))
        assert response.status_code == 202, response.content
        if n % 25 == 0:
            process()  # workers take batches as they come
    process()
    assert InboundEvent.objects.exclude(status="processed").count() == 0

    switch_alert = Alert.objects.get(source=SWITCH)
    switch_incident = switch_alert.incident
    disk_incident = Alert.objects.get(source="db-99").incident
    outage = Incident.objects.exclude(pk=disk_incident.pk).filter(merged_into__isnull=True)
    # At most 5 incidents for the outage; the switch one owned by the network team.
    assert outage.count() <= 5, list(outage.values_list("title", "team__slug"))
    assert switch_incident.team.slug == "network"
    # The disk alert opened its own incident, owned by the DBA team.
    assert disk_incident.team.slug == "dba"
    assert disk_incident != switch_incident
    # Every alert is attached somewhere; host alerts sit in the switch incident as suppressed.
    assert Alert.objects.filter(incident__isnull=True).count() == 0
    host_alerts = Alert.objects.filter(source__startswith="app-")
    in_switch = host_alerts.filter(incident=switch_incident)
    assert in_switch.count() == host_alerts.count()
    assert in_switch.exclude(suppression="suppressed").count() == 0
    assert in_switch.filter(suppression_reason__contains=f"{SWITCH} is down").exists()

    # Ten minutes later, every escalation that is due has run: the network team was paged for
    # the switch, the DBA team for its own disk, and nobody for the downstream hosts.
    later = timezone.now() + timedelta(minutes=10)
    while escalation_engine.escalations_run_due(now=later):
        pass
    pages = Notification.objects.filter(purpose="page")
    assert pages.filter(incident=switch_incident).exists()
    assert pages.exclude(incident__in=[switch_incident, disk_incident]).count() == 0
    assert pages.filter(user__username="sam").count() == 0  # the server team
    assert pages.filter(user__username="dave").exclude(incident=disk_incident).count() == 0

    # Everything recovered: every alert resolved, and the incidents resolve themselves.
    assert Alert.objects.filter(status="firing").count() == 0
    incidents_auto_resolve_due(now=timezone.now() + timedelta(minutes=6))
    assert Incident.objects.filter(status__in=["triggered", "acknowledged"]).count() == 0
