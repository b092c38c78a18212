"""Flapping: an alert whose fingerprint keeps changing state (fire, resolve, fire...).

By default 5 or more state changes within 10 minutes mark it flapping; it stays flapping until
10 minutes pass without a change (IOC_FLAP_THRESHOLD, IOC_FLAP_WINDOW_SECONDS,
IOC_FLAP_QUIET_SECONDS). A state change is an alert created (a firing) or resolved; repeats of the
same state are not changes. While flapping, a firing opens no incident and pages nobody.

The decision is pure (`flap_is_flapping`, `flap_apply_change`); a FlapState row keeps the history
of one fingerprint, because each firing after a resolve is a new Alert row. The processing batch
(alerts/batch.py) reads and writes those rows in bulk.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from .models import FlapState


@dataclass(frozen=True)
class FlapPolicy:
    threshold: int = 5  # 0 turns flapping detection off
    window: timedelta = timedelta(minutes=10)
    quiet: timedelta = timedelta(minutes=10)

    @property
    def enabled(self) -> bool:
        return self.threshold > 0


def flap_policy() -> FlapPolicy:
    return FlapPolicy(
        threshold=settings.IOC_FLAP_THRESHOLD,
        window=timedelta(seconds=settings.IOC_FLAP_WINDOW_SECONDS),
        quiet=timedelta(seconds=settings.IOC_FLAP_QUIET_SECONDS),
    )


# --- policy (pure) --------------------------------------------------------------------------------


def flap_is_flapping(
    changes: Sequence[datetime], *, now: datetime, was_flapping: bool, policy: FlapPolicy
) -> bool:
    """Whether a fingerprint with these state-change times is flapping at `now`.

    It starts when `threshold` changes fall within `window` (both ends included), and once
    started it lasts until `quiet` has passed since the last change, even if the changes slow
    down below the threshold meanwhile: otherwise it would switch on and off, flapping itself."""
    if not policy.enabled or not changes:
        return False
    if now - max(changes) >= policy.quiet:
        return False
    if was_flapping:
        return True
    recent = [change for change in changes if now - change <= policy.window]
    return len(recent) >= policy.threshold


def flap_changes_kept(changes: Sequence[datetime], *, policy: FlapPolicy) -> list[datetime]:
    """The changes worth storing: the latest `threshold` ones, oldest first. Older ones can never
    make the count again, and the last one alone decides the quiet period."""
    return sorted(changes)[-max(policy.threshold, 1) :]


# --- state per fingerprint ------------------------------------------------------------------------


@dataclass(frozen=True)
class FlapChange:
    flapping: bool
    started: bool  # this change started it: the moment to say so on the incident
    changes: int  # changes within the window, for the message


def flap_apply_change(state: FlapState, *, at: datetime, policy: FlapPolicy) -> FlapChange:
    """Add a state change at `at` to a fingerprint's history (the object only: the processing
    batch writes it) and decide whether the fingerprint is now flapping."""
    changes = flap_changes_kept([*flap_state_changes(state), at], policy=policy)
    now = max(changes)
    # A state the sweep has not cleared yet (it runs every 10 s) still counts as flapping here:
    # clearing it has work to do (alerts to unmark, an incident to open) that belongs there.
    flapping = flap_is_flapping(changes, now=now, was_flapping=state.flapping, policy=policy)
    started = flapping and not state.flapping
    state.changes = [change.isoformat() for change in changes]
    state.last_change_at = now
    state.flapping = flapping
    if started:
        state.flapping_since = at
    within = sum(1 for change in changes if now - change <= policy.window)
    return FlapChange(flapping=flapping, started=started, changes=within)


def flap_state_changes(state: FlapState) -> list[datetime]:
    return [datetime.fromisoformat(text) for text in state.changes]


def flap_states_quiet(*, now: datetime) -> QuerySet[FlapState]:
    """The flapping states whose last change is at least the quiet period old."""
    return FlapState.objects.filter(
        flapping=True, last_change_at__lte=now - flap_policy().quiet
    ).order_by("last_change_at")


def flap_states_prune(*, now: datetime, batch_size: int = 5000) -> int:
    """Delete the states that can no longer count towards flapping, in batches."""
    policy = flap_policy()
    stale = FlapState.objects.filter(
        Q(flapping=False) & Q(last_change_at__lt=now - max(policy.window, policy.quiet))
    )
    deleted = 0
    while ids := list(stale.values_list("pk", flat=True)[:batch_size]):
        # Re-check in the DELETE itself: a change may have made one of them live meanwhile.
        count, _ = stale.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < batch_size:
            break
    return deleted
