"""The allowed moves between incident states: the one place that decides them.

Open states move forward only, and may skip steps (a fix found at once goes straight to resolved).
A resolved incident may be reopened (to acknowledged, or to triggered when a source re-fires) until
it is closed. Closed is final.
"""

from .models import Status

FORWARD_ORDER = [
    Status.TRIGGERED,
    Status.ACKNOWLEDGED,
    Status.INVESTIGATING,
    Status.IDENTIFIED,
    Status.MITIGATED,
    Status.RESOLVED,
]


class WorkflowRefused(Exception):
    """The procedure refuses this action now (answered 409 with the message)."""


class TransitionNotAllowed(WorkflowRefused):
    def __init__(self, current: str, target: str):
        super().__init__(f"an incident that is {current} cannot become {target}")
        self.current = current
        self.target = target


def _allowed_moves() -> dict[str, frozenset[str]]:
    moves: dict[str, frozenset[str]] = {}
    for index, state in enumerate(FORWARD_ORDER):
        moves[state] = frozenset(FORWARD_ORDER[index + 1 :])
    moves[Status.RESOLVED] = frozenset({Status.ACKNOWLEDGED, Status.TRIGGERED, Status.CLOSED})
    moves[Status.CLOSED] = frozenset()
    return moves


ALLOWED_MOVES = _allowed_moves()


def is_allowed(current: str, target: str) -> bool:
    return target in ALLOWED_MOVES.get(current, frozenset())


def is_reopen(current: str, target: str) -> bool:
    return current == Status.RESOLVED and target in (Status.ACKNOWLEDGED, Status.TRIGGERED)


def check(current: str, target: str, *, reopen: bool = False) -> bool:
    """True when the move changes something, False for a no-op; raises when it is forbidden.

    Reopening is only done on purpose (`reopen=True`): acknowledging never un-resolves."""
    if current == target:
        return False
    if not is_allowed(current, target) or (is_reopen(current, target) and not reopen):
        raise TransitionNotAllowed(current, target)
    return True
