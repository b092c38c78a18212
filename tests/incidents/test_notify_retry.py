"""The retry policy: pure functions of the attempt number and the receiver's Retry-After."""

from datetime import timedelta

import pytest

from incidents.notify import DeliveryResult, retry_delay, should_retry

TRANSIENT = DeliveryResult(ok=False, permanent=False, error="HTTP 503")


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.IOC_NOTIFY_RETRY_BASE_SECONDS = 30
    settings.IOC_NOTIFY_RETRY_MAX_SECONDS = 900
    settings.IOC_NOTIFY_MAX_ATTEMPTS = 6


@pytest.mark.parametrize(("attempt", "nominal"), [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480)])
def test_it_doubles_the_wait_after_each_failure(attempt, nominal):
    delays = [retry_delay(attempt, None).total_seconds() for _ in range(200)]

    assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays)


def test_it_jitters_so_failures_do_not_come_back_together():
    delays = {retry_delay(3, None) for _ in range(50)}

    assert len(delays) > 40


@pytest.mark.parametrize("attempt", [6, 7, 20, 10_000])
def test_it_never_waits_more_than_the_cap(attempt):
    delays = [retry_delay(attempt, None) for _ in range(100)]

    assert all(timedelta(minutes=10) <= d <= timedelta(minutes=15) for d in delays)
    assert len(set(delays)) > 90


def test_it_honours_a_longer_retry_after():
    assert retry_delay(1, 300.0) == timedelta(seconds=300)


def test_it_keeps_its_own_wait_when_retry_after_is_shorter():
    assert retry_delay(4, 5.0) >= timedelta(seconds=192)


def test_it_caps_a_retry_after_of_hours():
    assert retry_delay(1, 7200.0) == timedelta(minutes=15)


def test_it_reads_its_schedule_from_settings(settings):
    settings.IOC_NOTIFY_RETRY_BASE_SECONDS = 1
    settings.IOC_NOTIFY_RETRY_MAX_SECONDS = 4

    assert retry_delay(1, None) <= timedelta(seconds=1.2)
    assert timedelta(seconds=2.6) <= retry_delay(10, None) <= timedelta(seconds=4)


def test_it_retries_a_transient_failure_until_the_last_attempt():
    assert [should_retry(TRANSIENT, attempt) for attempt in range(1, 8)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_it_never_retries_a_permanent_failure_or_a_success():
    assert not should_retry(DeliveryResult(ok=False, permanent=True, error="HTTP 404"), 1)
    assert not should_retry(DeliveryResult(ok=True), 1)


def test_it_reads_the_attempt_limit_from_settings(settings):
    settings.IOC_NOTIFY_MAX_ATTEMPTS = 2

    assert should_retry(TRANSIENT, 1)
    assert not should_retry(TRANSIENT, 2)
