"""Relative dates ("yesterday", "next month", "last summer") resolved against the observation date."""

from __future__ import annotations

import re
from datetime import date, timedelta

from memories.extraction.rules import (
    _ADVERBS,
    _DATE,
    _ED_BASE,
    _EVERY_BEFORE,
    _MONTHS,
    _NUMBERS,
    _PAST,
    _PAST_HINT,
    _SEASON_START,
    _WEEKDAYS,
    _WORD,
    _is_ly_adverb,
)

# --------------------------------------------------------------------------------------------------
# Dates


def _clause_is_past(clause: str) -> bool:
    return bool(_PAST_HINT.search(clause)) or _first_verb_is_past(clause)


def _resolve_dates(clause: str, today: date, *, past: bool) -> tuple[str, bool]:
    future = False

    def replace(match: re.Match[str]) -> str:
        nonlocal future
        if _EVERY_BEFORE.search(clause, 0, match.start()):
            return match.group()
        resolved = _resolve_one(match, today, past)
        if resolved is None:
            return match.group()
        phrase, lead, when = resolved
        if when > today:
            future = True
        prep = match.group("prep")
        return f"{prep} {phrase}" if prep else f"{lead} {phrase}"

    return _DATE.sub(replace, clause), future


def _first_verb_is_past(clause: str) -> bool:
    words = _WORD.findall(clause)
    for word in words[1:6]:
        lower = word.lower()
        if lower in _ADVERBS or _is_ly_adverb(lower):
            continue
        if lower in ("will", "going", "am", "is", "are", "can", "shall"):
            return False
        if lower in _PAST or lower in ("was", "were", "did", "had"):
            return True
        if lower.endswith("ed") and lower not in _ED_BASE:
            return True
    return False


def _resolve_one(match: re.Match[str], today: date, past: bool) -> tuple[str, str, date] | None:
    g = match.groupdict()
    if g["dby"]:
        return _day(today - timedelta(days=2))
    if g["dat"]:
        return _day(today + timedelta(days=2))
    if g["prel"]:
        offset = {"yesterday": -1, "tomorrow": 1, "this": 0}[g["prel"].lower()]
        day = today + timedelta(days=offset)
        return f"the {g['part'].lower()} of {day.isoformat()}", "on", day
    if g["lastnight"]:
        day = today - timedelta(days=1)
        return f"the night of {day.isoformat()}", "on", day
    if g["tonight"]:
        return f"the evening of {today.isoformat()}", "on", today
    if g["simple"]:
        offset = {"yesterday": -1, "today": 0, "tomorrow": 1}[g["simple"].lower()]
        return _day(today + timedelta(days=offset))
    if g["unit"]:
        rel, unit = g["rel"].lower(), g["unit"].lower()
        step = {"last": -1, "next": 1, "coming": 1, "this": 0}[rel]
        if unit == "week":
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
            return f"the week of {monday.isoformat()}", "in", monday + timedelta(days=6 if step >= 0 else 0)
        if unit == "weekend":
            saturday = today + timedelta(days=5 - today.weekday()) + timedelta(weeks=step)
            return f"the weekend of {saturday.isoformat()}", "on", saturday
        if unit == "month":
            first = _add_months(today, step)
            return f"{_MONTHS[first.month - 1]} {first.year}", "in", first if step else today
        year = today.year + step
        return str(year), "in", date(year, 12 if step > 0 else 1, 1) if step else today
    if g["season"]:
        return _season(g["srel"].lower(), g["season"].lower(), today)
    if g["wd"]:
        target = _WEEKDAYS.index(g["wd"].lower())
        rel = (g["wrel"] or "").lower()
        ahead = (target - today.weekday()) % 7
        behind = (today.weekday() - target) % 7
        if rel in ("next", "coming"):
            day = today + timedelta(days=ahead or 7)
        elif rel == "last":
            day = today - timedelta(days=behind or 7)
        elif rel == "this":
            day = today - timedelta(days=behind) if past else today + timedelta(days=ahead)
        else:
            day = today - timedelta(days=behind or 7) if past else today + timedelta(days=ahead or 7)
        return _day(day)
    if g["in_n"]:
        return _offset(_NUMBERS.get(g["in_n"].lower()) or int(g["in_n"]), g["in_u"], today, +1)
    if g["ago_n"]:
        return _offset(_NUMBERS.get(g["ago_n"].lower()) or int(g["ago_n"]), g["ago_u"], today, -1)
    return None


def _season(rel: str, name: str, today: date) -> tuple[str, str, date]:
    """'last spring' -> 'spring 2025'; 'next June' -> 'June 2026' (a season or a month, by its start)."""
    month = _SEASON_START.get(name) or _MONTHS.index(name.capitalize()) + 1
    span = 3 if name in _SEASON_START else 1
    if rel == "last":
        year = today.year if month + span <= today.month else today.year - 1
    elif rel in ("next", "coming"):
        year = today.year if month > today.month else today.year + 1
    else:
        year = today.year
    label = name if name in _SEASON_START else name.capitalize()
    return f"{label} {year}", "in", date(year, month, 1)


def _day(day: date) -> tuple[str, str, date]:
    return day.isoformat(), "on", day


def _offset(count: int, unit: str, today: date, sign: int) -> tuple[str, str, date]:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return _day(today + timedelta(days=sign * count))
    if unit == "week":
        return _day(today + timedelta(weeks=sign * count))
    if unit == "month":
        first = _add_months(today, sign * count)
        return f"{_MONTHS[first.month - 1]} {first.year}", "in", first
    year = today.year + sign * count
    return str(year), "in", date(year, 1, 1) if sign < 0 else date(year, 12, 31)


def _add_months(day: date, months: int) -> date:
    years, month_index = divmod(day.month - 1 + months, 12)
    return date(day.year + years, month_index + 1, 1)
