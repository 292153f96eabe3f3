"""A page of a long listing from indexes: the page's ids first, then only those rows.

The rows a viewer may list are given as disjoint parts (their own scans; the others'
granted to them; with a score, then without), each a condition an index reads in order.
Parts of one `group` interleave by the sort keys; groups follow each other. Each part is
counted from its index or read from a count the database keeps (the exact total), so the
page falls in known groups:
- one part: its index read in order, OFFSET over index entries, not rows and joins;
- several: the largest part read the same way over a window just wide enough, and the
  database sorts that window with the smaller parts' rows (a few hundred grants, say).
A page in the later half of its group is read from the other end: every key reversed
(the id last, so the order is total and its reverse exact), the offset counted from the
end, the rows turned back. So the last page walks as few index entries as the first.
No part is ever sorted as a whole (bench/listing.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, literal_column, select, union_all
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Part:
    """Rows matching all `conditions`; a lower `group` comes first. `count`, when given,
    is a scalar query that answers how many there are (a count the database keeps) in
    place of counting them."""

    conditions: Sequence[Any]
    group: int = 0
    count: Any = None


def directed(keys: Sequence[Any], descending: bool) -> list[Any]:
    """Every key in the one direction, so an index serves the order read either way."""
    return [k.desc() if descending else k.asc() for k in keys]


@dataclass(frozen=True)
class Listing:
    """What to list: from `table`, ordered by `keys` then `id_column`."""

    session: Session
    table: Any
    id_column: Any
    keys: Sequence[Any]
    descending: bool

    def page(self, parts: Sequence[Part], offset: int, limit: int) -> tuple[list[uuid.UUID], int]:
        """The ids at [offset, offset + limit) of the parts' rows, and how many there are."""
        counted = [(part, self._count(part)) for part in parts]
        total = sum(n for _, n in counted)
        ids: list[uuid.UUID] = []
        base = 0
        for group in sorted({part.group for part in parts}):
            members = [(p, n) for p, n in counted if p.group == group and n]
            size = sum(n for _, n in members)
            local = offset + len(ids) - base
            wanted = limit - len(ids)
            if wanted > 0 and 0 <= local < size:
                ids += self._nearer_end(members, size, local, min(wanted, size - local))
            base += size
        return ids, total

    def rows(self, query: Any, ids: Sequence[uuid.UUID]) -> list[Any]:
        """The rows of `query` (whose first entity is the table's) for these ids, in their
        order: a page's content once its ids are known."""
        if not ids:
            return []
        found = {
            row[0].id: row for row in self.session.execute(query.where(self.id_column.in_(ids)))
        }
        return [found[i] for i in ids if i in found]

    def _count(self, part: Part) -> int:
        query = part.count
        if query is None:
            query = select(func.count()).select_from(self.table).where(*part.conditions)
        return self.session.scalar(query) or 0

    def _ordered(self, part: Part) -> Any:
        order = directed([*self.keys, self.id_column], self.descending)
        return select(self.id_column).where(*part.conditions).order_by(*order)

    def _nearer_end(
        self, members: list[tuple[Part, int]], size: int, offset: int, limit: int
    ) -> list[uuid.UUID]:
        """Positions [offset, offset + limit) of a group of `size` rows, read from whichever
        end of the order is nearer."""
        from_end = size - offset - limit
        if from_end >= offset:
            return self._within(members, offset, limit)
        reverse = replace(self, descending=not self.descending)
        return reverse._within(members, from_end, limit)[::-1]

    def _within(self, members: list[tuple[Part, int]], offset: int, limit: int) -> list[uuid.UUID]:
        """Positions [offset, offset + limit) of the members' rows merged in key order."""
        if len(members) == 1:
            query = self._ordered(members[0][0]).offset(offset).limit(limit)
            return list(self.session.scalars(query))
        largest, _ = max(members, key=lambda m: m[1])
        smaller = [p for p, _ in members if p is not largest]
        others = sum(n for p, n in members if p is not largest)
        # Before position `offset` come at most `others` rows of the smaller parts, so the
        # largest part's rows from `start` on, merged with all of theirs, hold the page.
        start = max(0, offset - others)
        window = list(
            self.session.scalars(self._ordered(largest).offset(start).limit(offset + limit - start))
        )
        branches = [
            self._labelled([self.id_column.in_(window)]),
            *(self._labelled(part.conditions) for part in smaller),
        ]
        names: list[Any] = [literal_column(f"k{n}") for n in range(len(self.keys))]
        merged = union_all(*branches).order_by(
            *directed([*names, literal_column("id")], self.descending)
        )
        return [row[0] for row in self.session.execute(merged.offset(offset - start).limit(limit))]

    def _labelled(self, conditions: Sequence[Any]) -> Any:
        keys = [key.label(f"k{n}") for n, key in enumerate(self.keys)]
        return select(self.id_column.label("id"), *keys).where(*conditions)
