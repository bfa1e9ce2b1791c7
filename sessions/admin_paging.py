"""Admin changelists that stay fast on tables of millions of rows.

Django's default changelist runs two COUNT(*) per request (the filtered count for the paginator and
the unfiltered one for "N total") and fetches a page with OFFSET over the fully joined row set, so
every skipped row is joined to its users. At 1,000,000 sessions that was 160 ms for page 1 and
1,320 ms for page 4,000. Here:

* EstimatedCountPaginator: the unfiltered count comes from the planner's statistics
  (pg_class.reltuples scaled to the table's current size); a filtered count is exact up to a cap
  and the planner's estimate above it. Small tables are always counted exactly.
* Deep pages are fetched in two steps: the page's ids with OFFSET over the ordering index (an
  index-only scan: no heap rows, no joins for the skipped rows), then those rows with their joins.
* IndexedChangeList: the primary-key tie-breaker that keeps an ordering deterministic follows the
  direction of the sort key, so one (key, id) index serves both directions.
"""

import json

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

# Below this many rows a COUNT(*) costs less than being approximate.
EXACT_COUNT_BELOW = 20_000
# A filtered count stops here (100 pages at 100 per page); beyond it the planner estimates.
FILTERED_COUNT_CAP = 10_000

_TABLE_ESTIMATE_SQL = """
SELECT CASE WHEN c.reltuples < 0 OR c.relpages = 0 THEN -1
            ELSE (c.reltuples / c.relpages)
                 * (pg_relation_size(c.oid) / current_setting('block_size')::int) END::bigint
FROM pg_class c WHERE c.oid = to_regclass(%s)
"""


def table_row_estimate(*, model, using: str) -> int:
    """The planner's own row estimate (tuples per page, times the table's pages now), so it follows
    the table's growth between ANALYZE runs. -1 when the table has never been analysed."""
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(_TABLE_ESTIMATE_SQL, [connection.ops.quote_name(model._meta.db_table)])
        row = cursor.fetchone()
    return -1 if row is None or row[0] is None else int(row[0])


def planner_row_estimate(*, queryset: QuerySet) -> int:
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def is_unfiltered(queryset: QuerySet) -> bool:
    query = queryset.query
    return not query.where and not query.distinct and not query.is_sliced and not query.combinator


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a whole large table; `is_estimate` tells the template to
    say "about"."""

    exact_count_below = EXACT_COUNT_BELOW
    filtered_count_cap = FILTERED_COUNT_CAP

    is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        if is_unfiltered(queryset):
            return self._unfiltered_count(queryset=queryset)
        return self._filtered_count(queryset=queryset)

    def _unfiltered_count(self, *, queryset: QuerySet) -> int:
        estimate = table_row_estimate(model=queryset.model, using=queryset.db)
        if estimate < self.exact_count_below:
            return queryset.count()
        self.is_estimate = True
        return estimate

    def _filtered_count(self, *, queryset: QuerySet) -> int:
        # COUNT over a LIMITed subquery: stops after cap + 1 matching rows.
        capped = queryset.order_by().values("pk")[: self.filtered_count_cap + 1].count()
        if capped <= self.filtered_count_cap:
            return capped
        self.is_estimate = True
        return max(capped, planner_row_estimate(queryset=queryset))

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.is_estimate and top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._rows(bottom=bottom, top=top), number, self)

    def _rows(self, *, bottom: int, top: int):
        queryset = self.object_list
        if bottom == 0 or not isinstance(queryset, QuerySet):
            return queryset[bottom:top]  # page 1 skips nothing: one query is cheapest
        # values_list drops select_related, so the OFFSET walks the ordering index alone.
        ids = list(queryset.values_list("pk", flat=True)[bottom:top])
        if not ids:
            return []
        return list(queryset.filter(pk__in=ids))  # same ORDER BY: the page keeps its order


def pk_follows_sort_key(ordering, *, pk_name: str) -> list:
    """["scheduled_start", "-scheduled_start", "-id"] -> ["scheduled_start", "id"].

    The changelist puts the clicked column first, then the admin's default ordering, then "-pk".
    A repeated field is dead weight and a tie-breaker running against the key's direction cannot be
    read from a (key, id) index in one scan, so keep each field's first occurrence, stop at the
    primary key (it is unique: nothing after it matters) and turn the key's direction onto it."""
    if any(not isinstance(item, str) for item in ordering):
        return list(ordering)  # expressions: leave Django's ordering alone
    keys, seen = [], set()
    for item in ordering:
        descending, name = item.startswith("-"), item.lstrip("-")
        name = pk_name if name == "pk" else name
        if name in seen:
            continue
        seen.add(name)
        keys.append(["-" if descending else "", name])
        if name == pk_name:
            break
    if len(keys) > 1 and keys[-1][1] == pk_name:
        keys[-1][0] = keys[-2][0]
    return [prefix + name for prefix, name in keys]


class IndexedChangeList(ChangeList):
    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        return pk_follows_sort_key(ordering, pk_name=self.lookup_opts.pk.name)


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist settings for tables of millions of rows (sessions, events). Subclasses list
    only columns they can sort by an index in `sortable_by`."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False  # the second COUNT(*) of the whole table
    show_facets = admin.ShowFacets.NEVER  # facet counts are one COUNT per filter choice
    list_per_page = 100

    def get_changelist(self, request, **kwargs):
        return IndexedChangeList
