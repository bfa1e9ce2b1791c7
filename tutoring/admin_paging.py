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
* Rows are rendered by per-column functions built once per page (rendered_rows): Django's
  items_for_result() re-derives every cell's field, formatting and escaping through lazy wrappers,
  which took longer for 100 rows than all of the page's SQL.
"""

import json
from collections.abc import Callable
from html import escape

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_list import ResultList, _boolean_icon, result_headers
from django.contrib.admin.utils import display_for_field, display_for_value, lookup_field, quote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

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
    """Orderings an index can serve, and row links built without a URL resolve per row."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        # Each row's link keeps the list's filters through add_preserved_filters(), which resolves
        # the link against the whole URLconf: 100 resolves per page, more than the page's SQL.
        # Append the same "_changelist_filters=..." once per row here and leave it nothing to do.
        self.row_link_query, self.preserved_filters = self.preserved_filters, ""
        self.change_url_pattern = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=("__pk__",),
            current_app=self.model_admin.admin_site.name)

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        return pk_follows_sort_key(ordering, pk_name=self.lookup_opts.pk.name)

    def url_for_result(self, result):
        url = self.change_url_pattern.replace("__pk__", str(quote(getattr(result, self.pk_attname))))
        return f"{url}?{self.row_link_query}" if self.row_link_query else url

    @cached_property
    def result_table(self) -> dict:
        """What the result_list tag passes to admin/change_list_results.html, rows pre-rendered."""
        headers = list(result_headers(self))
        return {
            "result_headers": headers,
            "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
            "result_hidden_fields": [],
            "results": rendered_rows(self),
        }


# --- rows ------------------------------------------------------------------------------------

Cell = Callable[[models.Model], str]


def rendered_rows(cl) -> list:
    """One ResultList per row holding the row's HTML, the markup items_for_result() produces for
    the column kinds used here (checkbox, model fields, relations, admin methods)."""
    if cl.formset is not None:
        raise ValueError("rendered_rows() does not render list_editable forms")
    cells = column_cells(cl)
    return [ResultList(None, [mark_safe("".join(cell(obj) for cell in cells))]) for obj in cl.result_list]


def column_cells(cl) -> list[Cell]:
    empty = cl.model_admin.get_empty_value_display()
    cells, linked = [], False
    for name in cl.list_display:
        if name == "action_checkbox":
            cells.append(checkbox_cell(cl))
            continue
        link = not linked and link_in_column(cl, name=name)
        linked = linked or link
        cells.append(column_cell(cl, name=name, empty=empty, link=link))
    return cells


def link_in_column(cl, *, name: str) -> bool:
    if cl.list_display_links is None:
        return False
    return name in cl.list_display_links if cl.list_display_links else True


def checkbox_cell(cl) -> Cell:
    model_admin = cl.model_admin

    def cell(obj) -> str:
        return f'<td class="action-checkbox">{model_admin.action_checkbox(obj)}</td>'

    return cell


def column_cell(cl, *, name: str, empty: str, link: bool) -> Cell:
    value_html, nowrap = value_renderer(cl, name=name, empty=empty)
    classes = f' class="field-{escape(name)}{" nowrap" if nowrap else ""}"'
    if not link:
        return lambda obj: f"<td{classes}>{value_html(obj)}</td>"

    def linked(obj) -> str:
        return f'<th{classes}><a href="{escape(cl.url_for_result(obj))}">{value_html(obj)}</a></th>'

    return linked


def value_renderer(cl, *, name: str, empty: str) -> tuple[Cell, bool]:
    """(obj -> escaped HTML of the value, nowrap?) for one list_display entry."""
    try:
        field = cl.lookup_opts.get_field(name)
    except FieldDoesNotExist:
        field = None
    if field is not None and not field.auto_created:
        return field_renderer(field, empty=empty), isinstance(
            field, (models.DateField, models.TimeField, models.ForeignKey))
    attr = getattr(cl.model_admin, name, None) if isinstance(name, str) else name
    if callable(attr) and getattr(attr, "__self__", None) is cl.model_admin:
        boolean = getattr(attr, "boolean", False)
        return (lambda obj: conditional_escape(display_for_value(attr(obj), empty, boolean))), False
    return generic_renderer(cl, name=name, empty=empty), False


def field_renderer(field, *, empty: str) -> Cell:
    if isinstance(field, models.ForeignKey):
        return lambda obj: empty if (v := getattr(obj, field.name)) is None else escape(str(v))
    if field.flatchoices:
        labels = {value: escape(str(label)) for value, label in field.flatchoices}
        return lambda obj: labels.get(getattr(obj, field.attname), empty)
    if isinstance(field, models.BooleanField):
        icons = {value: _boolean_icon(value) for value in (True, False, None)}
        return lambda obj: icons[getattr(obj, field.attname)]
    if isinstance(field, models.DateTimeField):
        # Localised formatting is the costliest cell; lessons share start times, so format each once.
        formatted = {}

        def when(obj) -> str:
            value = getattr(obj, field.attname)
            if value is None:
                return empty
            if value not in formatted:
                formatted[value] = escape(formats.localize(timezone.template_localtime(value)))
            return formatted[value]

        return when
    return lambda obj: conditional_escape(display_for_field(getattr(obj, field.attname), field, empty))


def generic_renderer(cl, *, name: str, empty: str) -> Cell:
    """Anything else (the primary key, model properties): Django's own lookup and display."""

    def cell(obj) -> str:
        _, attr, value = lookup_field(name, obj, cl.model_admin)
        return conditional_escape(display_for_value(value, empty, getattr(attr, "boolean", False)))

    return cell


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist settings for tables of millions of rows (sessions, events). Subclasses list
    only columns they can sort by an index in `sortable_by`."""

    paginator = EstimatedCountPaginator
    # rows from result_table, "about" before an estimated count (tutoring/templates/admin/large_table/)
    change_list_template = "admin/large_table/change_list.html"
    show_full_result_count = False  # the second COUNT(*) of the whole table
    show_facets = admin.ShowFacets.NEVER  # facet counts are one COUNT per filter choice
    list_per_page = 100

    def get_changelist(self, request, **kwargs):
        return IndexedChangeList

    def action_checkbox(self, obj):
        """The same markup as Django's, without a widget template per row: rendering 100
        CheckboxInput templates cost more than the page's SQL."""
        return format_html('<input type="checkbox" name="{}" value="{}" class="action-select" '
                           'aria-label="Select this object for an action - {}">',
                           helpers.ACTION_CHECKBOX_NAME, obj.pk, str(obj))
