"""What makes a password acceptable, as NIST SP 800-63B asks: long enough, and not one
an attacker tries first. No composition rules (a capital, a digit...): length and a
blocklist do more for less annoyance.

The blocklist is zxcvbn's: the 30,000 passwords most common in breach corpora, matched
without regard to case, and its estimate of how many guesses a password takes (which
finds repeated and sequential characters, keyboard patterns and a common password with a
few characters added): fewer than a million guesses is refused.
"""

from __future__ import annotations

from functools import cache

PASSWORD_MIN_LENGTH = 12
MIN_GUESSES = 1e6
TOO_COMMON = (
    "Password is too common or too easy to guess (a common password, a repeated or "
    "sequential pattern): choose a longer phrase of unrelated words"
)
POLICY = f"at least {PASSWORD_MIN_LENGTH} characters, and not a common or easily guessed password"


@cache
def _common() -> frozenset[str]:
    # zxcvbn is imported on the first password checked, not at start: its dictionaries
    # cost a server 14 MB that most processes (workers, an idle API) never need.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _guesses(password: str) -> float:
    from zxcvbn import zxcvbn

    return float(zxcvbn(password)["guesses"])


def problem(password: str) -> str | None:
    """Why this password is refused, or None."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Password must be at least {PASSWORD_MIN_LENGTH} characters"
    if password.lower() in _common() or _guesses(password) < MIN_GUESSES:
        return TOO_COMMON
    return None


def usable(password: str) -> str:
    """A pydantic validator: the password, or ValueError with the reason."""
    reason = problem(password)
    if reason is not None:
        raise ValueError(reason)
    return password
