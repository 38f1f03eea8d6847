"""Reading a large window of the read store in bounded batches, the next batch read ahead.

Both streaming consumers of the store (VEE over a partition, ``vee.stream.run_partition``, and
billing determinants over a fleet, ``determinants.runner.stream_from_store``) work the same
way: cut the meter ids into contiguous ranges from the Delta log's statistics
(:meth:`~meterops.reads.store.ReadStore.meter_ranges`), read one range at a time with only the
needed columns, and let the next read run in a background thread while the caller computes on
the current batch. This module holds the shared parts:

* :func:`read_ahead` yields ``read(item)`` for each item in order, with ``read`` of the next
  item already running in one background thread (Polars and the Parquet reader release the
  interpreter lock, so the scan overlaps the caller's kernel);
* :func:`restrict_ranges` cuts them to a selection of meters (and to at most so many meters
  per batch);
* :func:`covering_ranges` stretches the store's ranges so that they also cover meters that
  have no stored rows (whose results must still appear, e.g. all-missing determinants).

Pure module: standard library and numpy only; must not import ``meterops.db``, ``models``,
``web``, ``cli`` or ``config``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

__all__ = ["covering_ranges", "read_ahead", "restrict_ranges"]

T = TypeVar("T")
R = TypeVar("R")


def read_ahead(
    items: Sequence[T],
    read: Callable[[T], R],
    *,
    prefetch: bool = True,
    thread_name: str = "read-ahead",
) -> Iterator[tuple[int, T, R]]:
    """Yield ``(position, item, read(item))`` in order, the next item's read running ahead.

    While the caller works on batch ``i``, ``read(items[i + 1])`` runs in one background
    thread; at most two batches are in memory at once (the one yielded and the one being
    read). ``read`` must be safe to call from another thread (give it its own store handle
    when the caller writes to the store meanwhile). An exception raised by ``read`` is raised
    here, at the batch it belongs to.

    Args:
        items: What to read, in order (e.g. meter-id ranges).
        read: Reads one item.
        prefetch: Read ahead in a thread; False: read each item when it is due (one batch in
            memory).
        thread_name: Name prefix of the background thread.

    Yields:
        Position in ``items`` (from 0), the item and what ``read`` returned.

    Examples:
        >>> [(i, x, y) for i, x, y in read_ahead([1, 2, 3], lambda v: v * 10)]
        [(0, 1, 10), (1, 2, 20), (2, 3, 30)]
    """
    if not prefetch:
        for position, item in enumerate(items):
            yield position, item, read(item)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name) as pool:
        ahead: Future[R] | None = pool.submit(read, items[0]) if items else None
        for position, item in enumerate(items):
            assert ahead is not None
            held = [ahead.result()]
            ahead = pool.submit(read, items[position + 1]) if position + 1 < len(items) else None
            try:
                # pop: the generator keeps no reference, so a caller's ``del`` frees the batch
                yield position, item, held.pop()
            except GeneratorExit:
                if ahead is not None:
                    ahead.cancel()
                raise


def covering_ranges(ranges: Sequence[range], *, low: int, high: int) -> list[range]:
    """``ranges`` (ascending, contiguous) stretched to cover every id in ``[low, high]``.

    The first range is extended down to ``low`` and the last up to ``high``; with no ranges
    at all (nothing stored), one range ``[low, high]``.

    Args:
        ranges: Ascending, adjacent meter-id ranges (as ``ReadStore.meter_ranges`` cuts them).
        low: Lowest id that must be covered.
        high: Highest id that must be covered.

    Returns:
        Ascending, adjacent ranges covering ``ranges`` and ``[low, high]``.

    Examples:
        >>> covering_ranges([range(5, 8), range(8, 10)], low=1, high=12)
        [range(1, 8), range(8, 13)]
        >>> covering_ranges([], low=3, high=4)
        [range(3, 5)]
    """
    if not ranges:
        return [range(low, high + 1)]
    out = list(ranges)
    out[0] = range(min(out[0].start, low), out[0].stop)
    out[-1] = range(out[-1].start, max(out[-1].stop, high + 1))
    return out


def restrict_ranges(
    ranges: Sequence[range], ids: Sequence[int], *, max_meters: int | None = None
) -> list[range]:
    """The parts of ``ranges`` that hold only ids of ``ids``, at most ``max_meters`` long.

    A selection of meters is read as the maximal runs of consecutive ids it has inside each
    range (a whole fleet numbered 1…N keeps the ranges as they are), so a batch never reads
    a meter that is not selected.

    Args:
        ranges: Ascending, disjoint meter-id ranges.
        ids: The selected meter ids (any order; duplicates allowed).
        max_meters: Longest range returned (None: no limit).

    Returns:
        Ascending, disjoint ranges whose ids are all in ``ids``.

    Examples:
        >>> restrict_ranges([range(1, 10)], [2, 3, 4, 7, 9])
        [range(2, 5), range(7, 8), range(9, 10)]
        >>> restrict_ranges([range(1, 4), range(4, 9)], range(1, 9), max_meters=3)
        [range(1, 4), range(4, 7), range(7, 9)]
    """
    if max_meters is not None and max_meters < 1:
        msg = f"max_meters must be at least 1, found {max_meters}"
        raise ValueError(msg)
    unique = np.unique(np.asarray(ids, dtype=np.int64))
    if unique.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(unique) != 1) + 1
    starts = unique[np.r_[0, breaks]]
    stops = unique[np.r_[breaks - 1, unique.size - 1]] + 1
    out: list[range] = []
    for r in ranges:
        first = int(np.searchsorted(stops, r.start, side="right"))
        last = int(np.searchsorted(starts, r.stop, side="left"))
        for k in range(first, last):
            low, high = max(int(starts[k]), r.start), min(int(stops[k]), r.stop)
            step = high - low if max_meters is None else max_meters
            out.extend(range(a, min(a + step, high)) for a in range(low, high, max(step, 1)))
    return out
