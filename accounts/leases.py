"""Leases of rate-limit slots, so that most requests count themselves in the process's memory.

A request's *slot* in a window is its place in the window's count (accounts/counters.py): the n-th
request counted in a key's window has slot n, and it is allowed iff n <= the window's limit.
Without leases (``RATE_LIMIT_LEASE_MAX=1``) every request takes its slot from the shared counter
store, one round trip each, and all of a key's requests queue on the same counter row. With leases,
a process that needs a slot takes ``L`` at once (``count = count + L``: it then owns slots
``count - L + 1 .. count``) and hands them out one per request, in order, under a lock per key,
until they are used up or the window ends. A lease belongs to the window it was taken in: what is
left of it when the window ends is dropped, never used in the next one.

**Exactness.** Slots are unique across every process and machine (each lease is one atomic step of
the store), so a window never allows more requests than its limit, whatever ``L`` is. The error
runs the other way only: a key may be refused while slots under its limit sit unused in another
process's lease, or were dropped with a lease when its window ended. ``L`` is sized from what is
left: the first lease a process takes in a window is 1 (it learns the count), each later one
``clamp((limit - count the process last saw) // LEASE_DIVISOR, 1, RATE_LIMIT_LEASE_MAX)``. A
process holds at most one lease per window, uses up a lease before it takes the next, and drops at
most one per window (its window's end is read from before the store was asked, so it may drop a
lease up to one round trip early; its next leases in that window are of 1). So per key and window:

    refused early <= P * (m - 1),   m = min(RATE_LIMIT_LEASE_MAX, limit // LEASE_DIVISOR)

where ``P`` is the number of processes that served the key in the window. With ``m <= 1`` (a
limit under ``2 * LEASE_DIVISOR`` = 32, or leases off) that is 0: every slot is taken one by one,
as without leases. One process serving a key alone uses up every lease it takes, so it sees the
limit exactly (but in the last round trip's time of a window). The defaults, 100 per minute and a
burst of 20: m = 6 and 1, at most 5 early refusals of 100 per web process.

Leases are per process: a forked child starts with none (``os.register_at_fork``).
"""

import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from accounts import counters

LEASE_DIVISOR = 16
PRUNE_SECONDS = 60


def lease_size(*, limit: int, seen: int, lease_max: int) -> int:
    """Slots to lease next in a window whose count this process last saw at ``seen``."""
    return max(1, min(lease_max, (limit - seen) // LEASE_DIVISOR))


@dataclass
class _Lease:
    next: int  # the next slot to hand out
    last: int  # the lease's last slot: the window's count when it was taken
    ends: float  # time.monotonic() by which its window has ended


class _Key:
    """One key's leases (window name -> lease), and the lock that hands out their slots."""

    def __init__(self):
        self.lock = threading.Lock()
        self.leases: dict[str, _Lease] = {}


class Leases:
    """This process's leases, per key (the names of the windows it is counted in)."""

    def __init__(self):
        self.forget()

    def forget(self) -> None:
        """Drop every lease (and every lock: also what a forked child runs first)."""
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, ...], _Key] = {}
        self._pruned = time.monotonic()

    def _key(self, names: tuple[str, ...]) -> _Key:
        now = time.monotonic()
        with self._lock:
            if now - self._pruned >= PRUNE_SECONDS:
                # Keys whose leases have all ended hold nothing worth keeping. A thread that already
                # fetched one of them takes a lease of 1 into it and uses it: nothing is lost.
                self._pruned = now
                self._keys = {
                    names: key
                    for names, key in self._keys.items()
                    if any(lease.ends > now for lease in key.leases.values())
                }
            key = self._keys.get(names)
            if key is None:
                key = self._keys[names] = _Key()
            return key

    def take(self, limits: Mapping[counters.Window, int], *, lease_max: int) -> dict[str, counters.Count]:
        """One slot in each window (``{window: limit}``): ``{window name: Count}``, whose ``count``
        is the slot. Leases that are used up or whose window ended are renewed in one round trip
        to the store (its errors reach the caller, and the request takes no slot)."""
        key = self._key(tuple(sorted(window.name for window in limits)))
        with key.lock:
            now = time.monotonic()
            amounts = {}
            for window, limit in limits.items():
                lease = key.leases.get(window.name)
                if lease is None or lease.ends <= now:
                    amounts[window.name] = 1
                elif lease.next > lease.last:
                    amounts[window.name] = lease_size(limit=limit, seen=lease.last, lease_max=lease_max)
            if amounts:
                counted = counters.hit([window for window in limits if window.name in amounts], amounts)
                for name, amount in amounts.items():
                    usage = counted[name]
                    key.leases[name] = _Lease(next=usage.count - amount + 1, last=usage.count, ends=usage.ends)
            slots = {}
            for window in limits:
                lease = key.leases[window.name]
                slots[window.name] = counters.Count(
                    count=lease.next, seconds_left=max(1, math.ceil(lease.ends - now)), ends=lease.ends
                )
                lease.next += 1
            return slots


_leases = Leases()
os.register_at_fork(after_in_child=_leases.forget)


def take(limits: Mapping[counters.Window, int], *, lease_max: int) -> dict[str, counters.Count]:
    """Count one request in each window (``{window: limit}``): ``{window name: Count}``, whose
    ``count`` is the request's slot. ``lease_max=1``: straight from the store, one round trip."""
    if lease_max == 1:
        return counters.hit(list(limits))
    return _leases.take(limits, lease_max=lease_max)


def forget() -> None:
    """Drop this process's leases (tests that empty the counter table)."""
    _leases.forget()
