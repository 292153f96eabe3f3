"""Dates that clients put in query strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from veriscan.core.errors import ValidationFailed


def parse_bound(name: str, value: str | None, *, end_of_day: bool) -> datetime | None:
    """An ISO 8601 date-time (UTC when it has no offset), or a date meaning the whole day:
    its first instant for a lower bound, its last for an upper bound. An empty value (a form's
    blank field) is no bound; anything else, spaces included, must be a date or date-time, as
    the schema says (DATE_OR_DATE_TIME)."""
    if value is None or value == "":
        return None
    text = value
    try:
        if len(text) == 10:
            return datetime.combine(
                date.fromisoformat(text), time.max if end_of_day else time.min, tzinfo=UTC
            )
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # overflow: year 1 or 9999 moved to UTC
        raise ValidationFailed(f"{name}: expected an ISO 8601 date or date-time") from None


def iso_millis(value: datetime) -> str:
    """A time as the JavaScript-style APIs write it: UTC, milliseconds, "Z" (a naive value
    is taken as UTC)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")
