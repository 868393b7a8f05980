"""Measuring a token bucket's rate from what got through before its 429: pure functions.

For a token bucket of rate R and burst B, any stretch of sending that ends at a 429 had at most
``B + R * seconds`` successes, with equality from the moment the bucket was last full.
"""

from __future__ import annotations

from collections.abc import Iterable, Reversible


def estimate(
    history: Reversible[tuple[float, float]],
    now: float,
    *,
    resumed_at: float,
    emptied_at: float | None,
    burst: float,
) -> tuple[float, float] | None:
    """The limit from the successes since sending last resumed (``history``: when, and how
    many of the token's each stood for), and over how many seconds; None if too few.

    Each stretch ending now gives a floor: from a full bucket, ``(count - burst) / seconds``.
    The stretch since the last 429 (``emptied_at``) gives another, ``count / seconds``, as the
    bucket was empty then: after a pause too short to fill it (a 1-second Retry-After at 5/s
    refills 5 of a burst of 10), the first floor alone would measure low.
    """
    best: tuple[float, float] | None = None
    count = 0.0
    for moment, weight in reversed(history):
        if moment < resumed_at:
            break
        count += weight
        seconds = now - moment
        if seconds < 0.05 or count <= burst:
            continue
        # The refused request found less than one token: half of one, on average, unused.
        rate = (count - burst + 0.5) / seconds
        if best is None or rate > best[0]:
            best = (rate, seconds)
    sending = now - resumed_at
    if emptied_at is not None and count > burst and sending >= resumed_at - emptied_at:
        # The part of a token left at that 429 and the part left now cancel out on average.
        # Only over a stretch of sending at least as long as the pause: a pause that may have
        # refilled the bucket makes this floor say nothing (21/s at a limit of 300).
        seconds = now - emptied_at
        rate = count / seconds
        if best is None or rate > best[0]:
            best = (rate, seconds)
    return best


def burst_from_cycles(cycles: Iterable[tuple[float, float]], at_least: float) -> float | None:
    """The server's burst from cycles sent at one pace, each from a full bucket: ``(seconds,
    successes)`` from sending resumed to the 429 that ended it. None until two differ enough,
    or when they give a burst under ``at_least``.

    Such a cycle let ``burst + limit * seconds`` through; two of different lengths give both.
    A server whose burst is larger than assumed shows exactly this way: refused again and
    again at the pace its last measure set.
    """
    known = list(cycles)
    if not known:
        return None
    short, long = min(known), max(known)
    if short[0] <= 0 or long[0] < 1.3 * short[0]:
        return None
    limit = (long[1] - short[1]) / (long[0] - short[0])
    burst = short[1] - limit * short[0]
    if limit <= 0 or burst < at_least:
        return None
    return burst
