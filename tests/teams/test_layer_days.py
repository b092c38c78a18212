"""A layer's restricted weekdays (`restrict_days`) mean the same to the model, the services and
the selectors: digits 0 (Monday) to 6 (Sunday), anything else refused, never skipped.

They used to disagree: the selectors dropped what was not a weekday digit, so a "7" layer ran
every day and a "1,7" one on Tuesdays, and the service crashed on "²" (a digit to isdigit, not
to int)."""

import logging
from datetime import time

import pytest
from django.core.exceptions import ValidationError

from teams.schedules import ScheduleError, parse_weekdays
from teams.selectors import schedule_oncall_now, schedule_spec_for
from teams.services import LayerInput, schedule_layers_set

# "²" and "٣" (Arabic-Indic three) are digits to str.isdigit; only "٣" is one to int.
BAD_DAYS = ["7", "1,7", "0 1", "²", "٣", "-1"]


@pytest.mark.parametrize(
    ("text", "days"), [("", set()), ("01234", {0, 1, 2, 3, 4}), ("60", {0, 6}), ("0011", {0, 1})]
)
def test_it_reads_weekday_digits(text, days):
    assert parse_weekdays(text) == days


@pytest.mark.parametrize("text", BAD_DAYS)
def test_it_refuses_anything_else_as_weekdays(text):
    with pytest.raises(ScheduleError, match="0 \\(Monday\\) to 6 \\(Sunday\\)"):
        parse_weekdays(text)


def _layer_input(schedule, **changes) -> LayerInput:
    layer = schedule.layers.get()
    fields = {
        "name": layer.name,
        "start": layer.start,
        "rotation_kind": layer.rotation_kind,
        "handoff_time": layer.handoff_time,
        "users": [m.user for m in layer.members.all()],
    }
    return LayerInput(**{**fields, **changes})


@pytest.mark.parametrize("text", BAD_DAYS)
def test_the_model_the_service_and_the_selector_all_refuse_bad_days(
    floor, schedule, bob, midnight, caplog, text
):
    layer = schedule.layers.get()

    # The model (what the admin runs): one message, on the field.
    layer.restrict_days = text
    with pytest.raises(ValidationError) as refused:
        layer.full_clean()
    assert list(refused.value.message_dict) == ["restrict_days"]
    assert len(refused.value.message_dict["restrict_days"]) == 1

    # The service (what the API runs), which leaves the layers as they were.
    with pytest.raises(ValidationError) as refused:
        schedule_layers_set(schedule=schedule, layers=[_layer_input(schedule, restrict_days=text)])
    assert list(refused.value.message_dict) == ["layers[0].restriction"]
    assert schedule.layers.get().restrict_days == ""

    # The selector, for a row changed behind their back: the layer is left out, not run on
    # every day or on the days it could read.
    schedule.layers.update(restrict_days=text)
    with caplog.at_level(logging.ERROR, logger="teams.selectors"):
        assert schedule_spec_for(schedule).layers == ()
        assert schedule_oncall_now(schedule=schedule, at=midnight) == []
    assert "left out" in caplog.text
    assert text in schedule.layers.get().restriction_label  # the page shows it, not a 500


def test_the_model_still_checks_the_rest_of_a_layer_with_bad_days(schedule):
    layer = schedule.layers.get()
    layer.restrict_days, layer.restrict_start = "7", time(9)
    with pytest.raises(ValidationError) as refused:
        layer.full_clean()
    assert set(refused.value.message_dict) == {"restrict_days", "restrict_start"}


def test_the_service_still_checks_the_rest_of_a_layer_with_bad_days(schedule):
    bad = _layer_input(schedule, restrict_days="7", rotation_kind="custom", name=" ")
    with pytest.raises(ValidationError) as refused:
        schedule_layers_set(schedule=schedule, layers=[bad])
    assert set(refused.value.message_dict) == {
        "layers[0].restriction",
        "layers[0].shift_length",
        "layers[0].name",
    }


def test_the_model_the_service_and_the_selector_agree_on_good_days(floor, schedule, midnight):
    # Sunday and Monday only; midnight is today, whatever day the suite runs.
    layer = schedule.layers.get()
    layer.restrict_days = "60"
    layer.full_clean()
    schedule_layers_set(schedule=schedule, layers=[_layer_input(schedule, restrict_days="60")])
    assert schedule.layers.get().restrict_days == "06"
    [spec] = schedule_spec_for(schedule).layers
    assert spec.restrict_days == {0, 6}
    assert schedule.layers.get().restriction_label == "Mon, Sun"
    on_call = schedule_oncall_now(schedule=schedule, at=midnight)
    assert bool(on_call) == (midnight.weekday() in {0, 6})
