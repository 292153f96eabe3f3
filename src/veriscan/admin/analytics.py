"""Scans over time for admins: counts per day, week or month, and the most active users.

The database buckets the rows (`bucket_start`), so a year of scans costs one grouped
query per kind rather than a year of rows in Python. Buckets are UTC; weeks start on
Monday (ISO 8601, as PostgreSQL's date_trunc has them). Every bucket of the range is in
the answer, empty ones included, so a chart's x axis is the series itself.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Date, case, cast, func, literal_column, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from veriscan.accounts.models import User
from veriscan.core.errors import ValidationFailed
from veriscan.malware.models import MalwareScan, ScanStatus
from veriscan.media.models import MediaScan, MediaStatus, Verdict

Period = Literal["day", "week", "month"]

# Buckets in a default range: the last 30 days, 12 weeks or 12 months, today's included.
DEFAULT_BUCKETS: dict[str, int] = {"day": 30, "week": 12, "month": 12}
# More would be a chart nobody can read, and a long answer anyone can ask for.
MAX_BUCKETS = 400
TOP_USERS = 10


def bucket_start(column: Any, period: Period, dialect: str) -> ColumnElement[Any]:
    """The first day of the bucket holding `column` (a UTC timestamp), in SQL.

    PostgreSQL truncates the timestamp moved to UTC (date_trunc would otherwise use the
    session's time zone). SQLite stores the UTC time as text ("2001-03-04 23:59:59.999999")
    whose day its date functions read: a week is found by going back six days and then
    forward to a Monday.

    The constants are literal SQL, not parameters, so that PostgreSQL sees the grouped
    expression and the selected one as the same.
    """
    if dialect == "postgresql":
        unit: ColumnElement[str] = literal_column(f"'{period}'")
        return cast(func.date_trunc(unit, func.timezone(literal_column("'UTC'"), column)), Date)
    if dialect == "sqlite":
        # The first ten characters of the stored text are the day. SQLite's date functions
        # are not given the time: they round it to milliseconds, which moves 23:59:59.9999
        # to the next day.
        day = func.substr(column, literal_column("1"), literal_column("10"))
        if period == "day":
            return day
        if period == "week":
            return func.date(day, literal_column("'-6 days'"), literal_column("'weekday 1'"))
        return func.strftime(literal_column("'%Y-%m-01'"), day)
    raise NotImplementedError(f"no date buckets for {dialect}")


def truncate(day: date, period: Period) -> date:
    """The first day of the bucket holding `day`, as `bucket_start` computes it."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def step(day: date, period: Period, count: int = 1) -> date:
    """`count` buckets after (or before, when negative) the bucket starting on `day`."""
    if period == "day":
        return day + timedelta(days=count)
    if period == "week":
        return day + timedelta(weeks=count)
    years, month = divmod(day.month - 1 + count, 12)
    return date(day.year + years, month + 1, 1)


def resolve_range(
    period: Period, start: date | None, end: date | None, today: date
) -> tuple[date, date, list[date]]:
    """The range asked for (defaults filled in) and the first day of each of its buckets."""
    try:
        end = end or today
        start = start or step(truncate(end, period), period, 1 - DEFAULT_BUCKETS[period])
    except (ValueError, OverflowError):
        raise ValidationFailed("from/to: the range reaches beyond the calendar") from None
    if start > end:
        raise ValidationFailed("from must not be after to")
    buckets = [truncate(start, period)]
    while True:
        try:
            following = step(buckets[-1], period)
        except (ValueError, OverflowError):
            break  # the calendar's last bucket
        if following > end:
            break
        buckets.append(following)
        if len(buckets) > MAX_BUCKETS:
            raise ValidationFailed(
                f"from/to: at most {MAX_BUCKETS} {period}s at a time; narrow the range"
            )
    return start, end, buckets


def analytics(
    session: Session, period: Period, start: date | None, end: date | None
) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    start, end, buckets = resolve_range(period, start, end, today)
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end, time.max, tzinfo=UTC)
    dialect = session.get_bind().dialect.name

    malware_bucket = bucket_start(MalwareScan.created_at, period, dialect)
    malware_rows = session.execute(
        select(
            malware_bucket,
            func.count(),
            _count_if(MalwareScan.status == ScanStatus.COMPLETED.value),
            _count_if(MalwareScan.status == ScanStatus.FAILED.value),
            _count_if(MalwareScan.malicious > 0),
        )
        .where(MalwareScan.created_at >= lower, MalwareScan.created_at <= upper)
        .group_by(malware_bucket)
    )
    malware = {
        _day(row[0]): {"total": row[1], "completed": row[2], "failed": row[3], "detected": row[4]}
        for row in malware_rows
    }

    media_bucket = bucket_start(MediaScan.created_at, period, dialect)
    media_rows = session.execute(
        select(
            media_bucket,
            func.count(),
            *(_count_if(MediaScan.result == verdict.value) for verdict in Verdict),
            _count_if(MediaScan.status == MediaStatus.FAILED.value),
        )
        .where(MediaScan.created_at >= lower, MediaScan.created_at <= upper)
        .group_by(media_bucket)
    )
    media = {}
    for row in media_rows:
        counts = {"total": row[1]}
        counts.update({verdict.value: row[2 + i] for i, verdict in enumerate(Verdict)})
        counts["failed"] = row[2 + len(Verdict)]
        media[_day(row[0])] = counts

    empty_malware = {"total": 0, "completed": 0, "failed": 0, "detected": 0}
    empty_media = {"total": 0, **{verdict.value: 0 for verdict in Verdict}, "failed": 0}
    series = [
        {
            "start": bucket.isoformat(),
            "malware": malware.get(bucket.isoformat(), empty_malware),
            "media": media.get(bucket.isoformat(), empty_media),
        }
        for bucket in buckets
    ]
    return {
        "period": period,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "series": series,
        "topUsers": _top_users(session, lower, upper),
    }


def _top_users(session: Session, lower: datetime, upper: datetime) -> list[dict[str, Any]]:
    scans = union_all(
        select(MalwareScan.user_id.label("user_id")).where(
            MalwareScan.created_at >= lower, MalwareScan.created_at <= upper
        ),
        select(MediaScan.user_id.label("user_id")).where(
            MediaScan.created_at >= lower, MediaScan.created_at <= upper
        ),
    ).subquery()
    count = func.count().label("scans")
    rows = session.execute(
        select(User.id, User.username, count)
        .join(scans, scans.c.user_id == User.id)
        .group_by(User.id, User.username)
        .order_by(count.desc(), User.username)
        .limit(TOP_USERS)
    )
    return [{"id": str(user_id), "username": name, "scans": n} for user_id, name, n in rows]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _day(value: Any) -> str:
    """A bucket as the database gives it (a date, or text on SQLite) as an ISO date."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]
