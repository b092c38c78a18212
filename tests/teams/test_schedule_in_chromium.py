"""The schedule page in a real headless Chromium: the grid draws and the override form works
through htmx without a reload."""

from datetime import date, time, timedelta

import pytest

from teams.models import ScheduleOverride
from teams.services import LayerInput, schedule_create
from tests.base import Floor
from tests.browser.test_board_in_chromium import log_in, page  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_it_lets_a_member_add_an_override_from_the_grid(page, tmp_path):  # noqa: F811
    floor = Floor()
    schedule = schedule_create(
        team=floor.first_line,
        name="Primary",
        time_zone="Europe/Berlin",
        layers=[
            LayerInput(
                name="weekly",
                start=date(2025, 1, 6),
                rotation_kind="daily",
                handoff_time=time(9),
                users=[floor.alice, floor.manager],
            ),
            LayerInput(
                name="office",
                start=date(2025, 1, 6),
                rotation_kind="daily",
                position=1,
                users=[floor.alice],
                restrict_days="0123",
                restrict_start=time(9),
                restrict_end=time(17),
            ),
        ],
    )
    first = schedule.layers.get(name="weekly")
    first.restrict_days, first.restrict_start, first.restrict_end = "01234", time(7), time(23)
    first.save()
    log_in(page, "alice", "pw-alice-123")
    page.goto(f"/schedules/{schedule.pk}/?start=2025-03-24")
    page.wait_for_selector(".oncall-grid")
    page.screenshot(path=str(tmp_path / "grid.png"), full_page=True)
    page.goto(f"/schedules/{schedule.pk}/")
    page.select_option("select[name=user]", label="manager")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    page.fill("input[name=start]", f"{tomorrow}T10:00")
    page.fill("input[name=end]", f"{tomorrow}T14:00")
    page.fill("input[name=reason]", "covering")
    page.click("text=Add override")
    page.wait_for_selector("text=Override added.")
    assert page.locator(".block.override").count() >= 1
    page.screenshot(path=str(tmp_path / "override.png"), full_page=True)
    assert ScheduleOverride.objects.get().user == floor.manager
    # A refusal is swapped in with its reason.
    page.select_option("select[name=user]", label="manager")
    page.fill("input[name=start]", f"{tomorrow}T14:00")
    page.fill("input[name=end]", f"{tomorrow}T10:00")
    page.click("text=Add override")
    page.wait_for_selector("text=must be after the start")
    assert page.locator(".flash.error").count() == 1
    assert ScheduleOverride.objects.count() == 1
