"""Export windows (SET-3) and business days (JRN-1): pure time arithmetic, clock passed in."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from qbsync_mapper.tenants import Schedule, ScheduleMode


def business_day(moment: datetime, zone: ZoneInfo) -> date:
    """The tenant's calendar day of an aware timestamp."""
    return moment.astimezone(zone).date()


def window_start(now: datetime, zone: ZoneInfo, every: timedelta) -> datetime:
    """The start of the interval window `now` falls in.

    Windows are anchored at each local midnight: `every: 12h` opens at 00:00 and
    12:00 tenant time, `every: 1d` at midnight, `every: 5h` at 00, 05, 10, 15, 20.
    """
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((local - midnight) // every) * every


def window_open(
    schedule: Schedule, zone: ZoneInfo, last_export_at: datetime | None, now: datetime
) -> bool:
    """Whether the tenant's waiting commands may leave now (manual: only on request).

    Args:
        schedule: the tenant's schedule.
        zone: the tenant's time zone.
        last_export_at: when the tenant's outbox was last exported (None: never).
        now: the clock's time.
    """
    if schedule.mode is ScheduleMode.CONTINUOUS:
        return True
    if schedule.mode is ScheduleMode.MANUAL or schedule.every is None:
        return False
    return last_export_at is None or window_start(now, zone, schedule.every) > last_export_at
