"""Conformance over the real payloads in ../shared/payloads/: every file has a hand-written
expected outcome, and the parser of its kind must produce exactly that.

The payloads come from other projects and stay outside this repository; CI always has them beside
the checkout. A file without an expectation fails the run, so "it did not crash" is never the bar.
"""

import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import tests.alerts.conformance as conformance_package
from alerts.sources import IgnoredPayload, PayloadError, SubscriptionConfirmation, source_for_kind

PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "payloads"


def load_expectations() -> dict[tuple[str, str], tuple[str, dict]]:
    expectations = {}
    for module_info in pkgutil.iter_modules(conformance_package.__path__):
        if not module_info.name.startswith("expected_"):
            continue
        module = importlib.import_module(f"{conformance_package.__name__}.{module_info.name}")
        for directory in module.DIRECTORIES:
            for file_name, expected in module.EXPECTED.items():
                if (PAYLOADS / directory / file_name).exists():
                    expectations[(directory, file_name)] = (module.KIND, expected)
    return expectations


EXPECTATIONS = load_expectations()
PAYLOAD_FILES = sorted(
    (path.parent.name, path.name) for path in PAYLOADS.glob("*/*") if path.suffix == ".json"
)


def test_the_shared_payloads_are_there():
    # CI lays shared/ beside the checkout; without it this suite would prove nothing.
    assert PAYLOADS.is_dir(), f"{PAYLOADS} is missing"
    assert len(PAYLOAD_FILES) >= 50


def test_every_expectation_names_a_real_file():
    names = {name for _, name in PAYLOAD_FILES}
    for module_info in pkgutil.iter_modules(conformance_package.__path__):
        if module_info.name.startswith("expected_"):
            module = importlib.import_module(f"{conformance_package.__name__}.{module_info.name}")
            missing = set(module.EXPECTED) - names
            assert not missing, f"{module_info.name} expects files that do not exist: {missing}"


@pytest.mark.parametrize(("directory", "file_name"), PAYLOAD_FILES)
def test_each_payload_gives_its_expected_outcome(directory, file_name):
    assert (directory, file_name) in EXPECTATIONS, (
        f"{directory}/{file_name} has no expected outcome: add it to tests/alerts/conformance/"
    )
    kind, expected = EXPECTATIONS[(directory, file_name)]
    payload = json.loads((PAYLOADS / directory / file_name).read_text(encoding="utf-8"))
    source = source_for_kind(kind)
    content_type = expected.get("content_type", "application/json").split(";")[0].strip()
    assert content_type in source.CONTENT_TYPES
    headers = expected.get("headers", {})
    outcome = expected.get("outcome", "")

    if outcome == "subscription_confirmation":
        with pytest.raises(SubscriptionConfirmation) as confirmation:
            source.parse(payload, headers)
        assert confirmation.value.subscribe_url.startswith("https://")
    elif outcome.startswith("ignored: "):
        with pytest.raises(IgnoredPayload) as ignored:
            source.parse(payload, headers)
        assert outcome.removeprefix("ignored: ") in ignored.value.reason
    elif outcome.startswith("PayloadError: "):
        with pytest.raises(PayloadError) as error:
            source.parse(payload, headers)
        assert outcome.removeprefix("PayloadError: ") in str(error.value)
    else:
        assert not outcome, f"unknown outcome {outcome!r}"
        alerts = source.parse(payload, headers)
        got = [
            {
                "fingerprint": alert.fingerprint,
                "status": alert.status,
                "severity": alert.severity or "warning",
                "service": alert.service,
                "name": alert.name,
            }
            for alert in alerts
        ]
        assert got == expected["alerts"]
        for alert in alerts:
            assert alert.summary, "every alert needs a summary a person can read"
