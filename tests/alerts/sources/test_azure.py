"""Azure Monitor common alert schema bodies, written here in the documented shape."""

import copy
from datetime import UTC, datetime

import pytest

from alerts.sources import azure
from alerts.sources.base import PayloadError
from tests.alerts.sources import parse_one

ALERT_ID = (
    "/subscriptions/7f3a0000-1111-2222-3333-444455556666/providers/"
    "Microsoft.AlertsManagement/alerts/0c9d8e7f-aaaa-bbbb-cccc-ddddeeeeffff"
)
TARGET = (
    "/subscriptions/7f3a0000-1111-2222-3333-444455556666/resourceGroups/rg-shop/"
    "providers/Microsoft.Compute/virtualMachines/shop-vm-02"
)

METRIC_FIRED = {
    "schemaId": "azureMonitorCommonAlertSchema",
    "data": {
        "essentials": {
            "alertId": ALERT_ID,
            "alertRule": "shop-vm-cpu-high",
            "severity": "Sev1",
            "signalType": "Metric",
            "monitorCondition": "Fired",
            "monitoringService": "Platform",
            "alertTargetIDs": [TARGET],
            "configurationItems": ["shop-vm-02"],
            "originAlertId": "7f3a0000_rg-shop_microsoft.insights_metricAlerts_shop-vm-cpu-high",
            "firedDateTime": "2024-02-10T08:00:01.1234567Z",
            "description": "CPU above 90% on the shop VM",
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
        },
        "alertContext": {
            "properties": None,
            "conditionType": "SingleResourceMultipleMetricCriteria",
            "condition": {
                "windowSize": "PT5M",
                "allOf": [
                    {
                        "metricName": "Percentage CPU",
                        "metricNamespace": "Microsoft.Compute/virtualMachines",
                        "operator": "GreaterThan",
                        # The threshold comes as a string, the value as a number.
                        "threshold": "90",
                        "timeAggregation": "Average",
                        "metricValue": 96.5,
                    }
                ],
            },
        },
        "customProperties": {"Service": "storefront", "team": "web"},
    },
}


def resolved() -> dict:
    body = copy.deepcopy(METRIC_FIRED)
    body["data"]["essentials"]["monitorCondition"] = "Resolved"
    body["data"]["essentials"]["resolvedDateTime"] = "2024-02-10T08:20:00.5Z"
    return body


def with_essentials(**fields) -> dict:
    body = copy.deepcopy(METRIC_FIRED)
    body["data"]["essentials"].update(fields)
    return body


def test_it_reads_a_fired_metric_alert():
    alert = parse_one(azure.parse, METRIC_FIRED)

    assert alert.fingerprint == ALERT_ID
    assert alert.status == "firing"
    assert alert.severity == "high"
    assert alert.name == "shop-vm-cpu-high"
    assert alert.summary == "CPU above 90% on the shop VM"
    assert alert.description == (
        "CPU above 90% on the shop VM\nPercentage CPU GreaterThan 90 (value 96.5)"
    )
    assert alert.source == "shop-vm-02"
    assert alert.service == "storefront"
    assert alert.started_at == datetime(2024, 2, 10, 8, 0, 1, 123456, tzinfo=UTC)
    assert alert.ended_at is None
    assert alert.labels == {
        "Service": "storefront",
        "team": "web",
        "signalType": "Metric",
        "monitoringService": "Platform",
        "originAlertId": "7f3a0000_rg-shop_microsoft.insights_metricAlerts_shop-vm-cpu-high",
        "alertTargetID": TARGET,
    }


def test_it_resolves_under_the_same_fingerprint():
    alert = parse_one(azure.parse, resolved())

    assert alert.status == "resolved"
    assert alert.fingerprint == parse_one(azure.parse, METRIC_FIRED).fingerprint
    assert alert.ended_at == datetime(2024, 2, 10, 8, 20, 0, 500000, tzinfo=UTC)


def test_it_reads_a_log_alert_with_its_search_link():
    body = copy.deepcopy(METRIC_FIRED)
    body["data"]["essentials"].update(signalType="Log", monitoringService="Log Alerts V2")
    body["data"]["alertContext"]["condition"]["allOf"] = [
        {
            "searchQuery": "AppExceptions | where AppRoleName == 'cart'",
            "metricMeasure": None,
            "operator": "GreaterThan",
            "threshold": "5",
            "metricValue": 12,
            "linkToSearchResultsUI": "https://portal.azure.com#@tenant/blade/logs/q/abc",
            "linkToSearchResultsAPI": "https://api.loganalytics.io/v1/query?q=abc",
        }
    ]

    alert = parse_one(azure.parse, body)

    assert alert.links == ("https://portal.azure.com#@tenant/blade/logs/q/abc",)
    assert alert.description.endswith(
        "AppExceptions | where AppRoleName == 'cart' GreaterThan 5 (value 12)"
    )


def test_it_copes_with_an_alert_context_of_another_shape():
    body = copy.deepcopy(METRIC_FIRED)
    body["data"]["alertContext"] = {"activityLog": {"operationName": "Delete VM"}}

    alert = parse_one(azure.parse, body)

    assert alert.description == "CPU above 90% on the shop VM"
    assert alert.links == ()


def test_it_falls_back_to_the_rule_and_configuration_item():
    body = with_essentials(description="", alertTargetIDs=None)
    del body["data"]["customProperties"]

    alert = parse_one(azure.parse, body)

    assert alert.summary == "shop-vm-cpu-high"
    assert alert.source == "shop-vm-02"
    assert alert.service == ""


@pytest.mark.parametrize(
    ("sev", "severity"),
    [
        ("Sev0", "critical"),
        ("Sev1", "high"),
        ("Sev2", "warning"),
        ("Sev3", "info"),
        ("Sev4", "info"),
    ],
)
def test_it_maps_severities(sev, severity):
    assert parse_one(azure.parse, with_essentials(severity=sev)).severity == severity


def test_it_keeps_an_unlisted_severity_as_a_label():
    alert = parse_one(azure.parse, with_essentials(severity="Sev9"))

    assert alert.severity is None
    assert alert.labels["source_severity"] == "Sev9"


def test_it_applies_the_integration_severity_map():
    config = {"severity_map": {"Sev3": "warning"}}

    assert (
        parse_one(azure.parse, with_essentials(severity="Sev3"), config=config).severity
        == "warning"
    )


def test_it_explains_how_to_enable_the_common_schema():
    legacy = {"schemaId": "AzureMonitorMetricAlert", "data": {"status": "Activated"}}

    with pytest.raises(PayloadError, match="turn on 'Enable the common alert schema'") as error:
        azure.parse(legacy, {})
    assert error.value.field == "schemaId"


def test_it_refuses_a_body_without_essentials():
    with pytest.raises(PayloadError, match=r"'data\.essentials' must be an object"):
        azure.parse({"schemaId": "azureMonitorCommonAlertSchema", "data": {}}, {})


def test_it_refuses_an_alert_without_id():
    with pytest.raises(PayloadError, match=r"'data\.essentials\.alertId' is required"):
        azure.parse(with_essentials(alertId=None), {})


def test_it_refuses_an_unknown_monitor_condition():
    with pytest.raises(PayloadError, match="'monitorCondition' must be Fired or Resolved"):
        azure.parse(with_essentials(monitorCondition="Flapping"), {})


def test_it_refuses_targets_that_are_not_a_list():
    with pytest.raises(PayloadError, match="alertTargetIDs' must be a list"):
        azure.parse(with_essentials(alertTargetIDs=TARGET), {})


def test_it_refuses_custom_properties_that_are_not_an_object():
    body = copy.deepcopy(METRIC_FIRED)
    body["data"]["customProperties"] = ["service=storefront"]

    with pytest.raises(PayloadError, match=r"'data\.customProperties' must be an object"):
        azure.parse(body, {})
