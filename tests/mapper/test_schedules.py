"""Export windows, pure (SET-3): when a tenant's waiting commands may leave."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from qbsync_mapper.rules.schedule import business_day, window_open, window_start
from qbsync_mapper.tenants import Schedule, ScheduleMode, TenantSettings, validate_document

from tests.mapper.helpers import settings_document, tenant_settings

LISBON = ZoneInfo("Europe/Lisbon")
TWELVE = Schedule(mode=ScheduleMode.INTERVAL, every=timedelta(hours=12))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


class TestWindows:
    @pytest.mark.parametrize(
        ("now", "start"),
        [
            ("2026-11-20T00:00:00+00:00", "2026-11-20T00:00:00+00:00"),
            ("2026-11-20T11:59:59+00:00", "2026-11-20T00:00:00+00:00"),
            ("2026-11-20T12:00:00+00:00", "2026-11-20T12:00:00+00:00"),
            ("2026-11-20T23:10:00+00:00", "2026-11-20T12:00:00+00:00"),
        ],
    )
    def test_twelve_hour_windows_open_at_local_midnight_and_noon_SET_3(
        self, now: str, start: str
    ) -> None:
        assert window_start(at(now), LISBON, timedelta(hours=12)) == at(start)

    def test_interval_window_opens_once_per_boundary_after_the_last_export_SET_3(self) -> None:
        last = at("2026-11-20T12:05:00+00:00")
        assert not window_open(TWELVE, LISBON, last, at("2026-11-20T23:59:00+00:00"))
        assert window_open(TWELVE, LISBON, last, at("2026-11-21T00:00:00+00:00"))
        assert window_open(TWELVE, LISBON, None, at("2026-11-21T03:00:00+00:00"))

    def test_continuous_is_always_open_and_manual_never_on_its_own_SET_3(self) -> None:
        now = datetime.now(UTC)
        assert window_open(Schedule(), LISBON, now, now)
        assert not window_open(Schedule(mode=ScheduleMode.MANUAL), LISBON, None, now)

    def test_business_day_is_the_tenant_calendar_day_JRN_1(self) -> None:
        moment = at("2026-11-20T23:30:00+00:00")
        assert business_day(moment, ZoneInfo("Asia/Tokyo")).isoformat() == "2026-11-21"
        assert business_day(moment, ZoneInfo("America/Sao_Paulo")).isoformat() == "2026-11-20"


class TestScheduleSettings:
    @pytest.mark.parametrize(
        ("value", "mode", "every"),
        [
            ("continuous", ScheduleMode.CONTINUOUS, None),
            ("manual", ScheduleMode.MANUAL, None),
            ("12h", ScheduleMode.INTERVAL, timedelta(hours=12)),
            ("1d", ScheduleMode.INTERVAL, timedelta(days=1)),
            ({"mode": "interval", "every": "30m"}, ScheduleMode.INTERVAL, timedelta(minutes=30)),
        ],
    )
    def test_schedule_shorthands_SET_3(
        self, value: object, mode: ScheduleMode, every: timedelta | None
    ) -> None:
        schedule = tenant_settings(schedule=value).schedule
        assert (schedule.mode, schedule.every) == (mode, every)

    def test_continuous_is_the_default_SET_3(self) -> None:
        assert tenant_settings().schedule.mode is ScheduleMode.CONTINUOUS

    def test_stored_settings_read_back_the_same_schedule_SET_3(self) -> None:
        settings = tenant_settings(schedule="12h", time_zone="Europe/Lisbon")
        again = TenantSettings.model_validate_json(settings.model_dump_json(by_alias=True))
        assert again == settings

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"schedule": "2d"}, "schedule.every"),
            ({"schedule": {"mode": "manual", "every": "1h"}}, "schedule.every"),
            ({"schedule": {"mode": "interval"}}, "schedule.every"),
            ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ],
    )
    def test_bad_schedule_or_zone_is_refused_SET_3(
        self, overrides: dict[str, object], field: str
    ) -> None:
        problems = validate_document(settings_document(**overrides))
        assert isinstance(problems, list)
        assert [p.field for p in problems] == [field]
