"""The table of allowed moves, tested as plain data."""

import itertools

import pytest

from incidents.models import Status
from incidents.transitions import TransitionNotAllowed, check, is_allowed

ORDER = ["triggered", "acknowledged", "investigating", "identified", "mitigated", "resolved"]


@pytest.mark.parametrize(("current", "target"), list(itertools.combinations(ORDER, 2)))
def test_it_allows_every_forward_move(current, target):
    assert is_allowed(current, target)
    assert check(current, target) is True


@pytest.mark.parametrize(
    ("current", "target"),
    [(b, a) for a, b in itertools.combinations(ORDER[:-1], 2)],
)
def test_it_refuses_every_backward_move_between_open_states(current, target):
    with pytest.raises(TransitionNotAllowed):
        check(current, target)


@pytest.mark.parametrize("state", [*ORDER, "closed"])
def test_repeating_the_current_state_is_a_no_op(state):
    assert check(state, state) is False


def test_a_resolved_incident_reopens_only_on_purpose():
    for target in ("acknowledged", "triggered"):
        with pytest.raises(TransitionNotAllowed):
            check("resolved", target)
        assert check("resolved", target, reopen=True) is True
    for target in ("investigating", "identified", "mitigated"):
        with pytest.raises(TransitionNotAllowed):
            check("resolved", target, reopen=True)


def test_only_a_resolved_incident_closes():
    assert check("resolved", "closed") is True
    for state in ORDER[:-1]:
        with pytest.raises(TransitionNotAllowed):
            check(state, "closed")


@pytest.mark.parametrize("target", [s for s in Status.values if s != "closed"])
def test_closed_is_final(target):
    with pytest.raises(TransitionNotAllowed):
        check("closed", target, reopen=True)
