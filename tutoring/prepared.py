"""Queries every request runs, with their SQL built through the ORM once per process.

Building a query (filter, then the compiler's as_sql) cost more of Django's CPU than running it:
the session row and the signed-in user, read on every signed-in request, took about 0.5 ms each
through `objects.get()`, 0.14 ms each here (bench/dashboard.py's machine; the same SQL but for
get()'s LIMIT 21). A query is built twice, for two sets of stand-in arguments; it is prepared
only when both give the same SQL and the parameters that differ are exactly the stand-ins, so the
plan knows where each call's arguments go. Anything else (a query whose shape depends on its
arguments, a parameter the ORM transforms or takes from the active time zone) gets no plan, and
the caller builds its query as before.

Users: `plan()` (the navigation's badge counts, notifications/context_processors.py) and `Get`
(the session row, tutoring/session_store.py; the user, tutoring.models.UserManager.get)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from threading import Lock

from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone


@dataclass(frozen=True)
class Plan:
    """A query's SQL and parameters, and which argument goes where among them."""

    sql: str
    params: tuple
    slots: dict[int, int]  # parameter position -> argument index

    def params_for(self, *args) -> list:
        return [args[self.slots[i]] if i in self.slots else p for i, p in enumerate(self.params)]


STAND_IN_ZONES = ("Pacific/Kiritimati", "Pacific/Chatham")  # +14:00 and +12:45: no viewer's zone is both


def plan(compile_with: Callable[..., tuple[str, Sequence]], first: tuple, second: tuple) -> Plan | None:
    """The plan of `compile_with(*args) -> (sql, params)`, found by compiling it for two sets of
    stand-in arguments (every value of `first` different from its place in `second`, and from
    every other stand-in); None when the two differ in anything but the stand-ins' own values.
    Each is compiled under another active time zone, so a parameter the ORM takes from the
    request's zone (a __date lookup, say) differs and gets no plan; a parameter the two compiles
    agree on for another reason (a value made from an argument that is the same for both
    stand-ins, or a setting read at compile time) would be frozen into the plan: use plans only
    for lookups of plain values, as below."""
    with timezone.override(STAND_IN_ZONES[0]):
        sql, one = compile_with(*first)
    with timezone.override(STAND_IN_ZONES[1]):
        other_sql, two = compile_with(*second)
    if sql != other_sql or len(one) != len(two):
        return None
    slots = {}
    for i, (a, b) in enumerate(zip(one, two, strict=True)):
        if a == b and type(a) is type(b):
            continue
        at = [k for k, (x, y) in enumerate(zip(first, second, strict=True)) if (x, y) == (a, b)]
        if len(at) != 1:
            return None  # a parameter the ORM made from the arguments, not an argument itself
        slots[i] = at[0]
    return Plan(sql, tuple(one), slots) if set(slots.values()) == set(range(len(first))) else None


class Get:
    """`build(*args).get()` of a query run on every request, prepared once per process: the
    instance the ORM's get() returns (the same SQL but for get()'s LIMIT 21, which a lookup by a
    unique key does not need; its columns through the same converters into `from_db`), or the
    model's DoesNotExist. Only for a query that selects its model's own columns
    (no select_related, annotations or deferred fields); one that cannot be prepared (plan() above)
    is built by the ORM each time."""

    def __init__(self, build: Callable[..., QuerySet], first: tuple, second: tuple):
        self.build, self.stand_ins = build, (first, second)
        self._prepared: dict[str, tuple | None] = {}
        self._lock = Lock()

    def __call__(self, *args, using: str = "default"):
        prepared = self._prepared.get(using)
        if prepared is None and using not in self._prepared:
            with self._lock:
                if using not in self._prepared:  # another thread may have prepared it meanwhile
                    self._prepared[using] = self._prepare(using)
                prepared = self._prepared[using]
        if prepared is None:
            return self.build(*args).using(using).get()
        found, model, columns, converters, fetch_mode = prepared
        connection = connections[using]  # this thread's (a converter is handed the connection)
        with connection.cursor() as cursor:
            cursor.execute(found.sql, found.params_for(*args))
            rows = cursor.fetchmany(2)
        if len(rows) != 1:
            if not rows:
                raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
            raise model.MultipleObjectsReturned(f"get() returned more than one {model._meta.object_name}")
        row = list(rows[0])
        for position, (functions, expression) in converters.items():  # as SQLCompiler.apply_converters
            for convert in functions:
                row[position] = convert(row[position], expression, connection)
        return model.from_db(using, columns, row, fetch_mode=fetch_mode)

    def _prepare(self, using: str) -> tuple | None:
        def compile_with(*args):
            return self.build(*args).using(using).query.get_compiler(using).as_sql()

        found = plan(compile_with, *self.stand_ins)
        if found is None:
            return None
        queryset = self.build(*self.stand_ins[0]).using(using)
        compiler = queryset.query.get_compiler(using)
        compiler.as_sql()  # fills compiler.select and klass_info
        if compiler.klass_info is None or compiler.annotation_col_map or len(compiler.select) != len(
                compiler.klass_info["select_fields"]):
            return None
        columns = [col.target.attname for col, _, _ in compiler.select]
        converters = compiler.get_converters([col for col, _, _ in compiler.select])
        return found, queryset.model, columns, converters, queryset._fetch_mode
