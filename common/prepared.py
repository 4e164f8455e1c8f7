"""Prepared selectors: a selector's queryset compiled to SQL once per process and database, then
re-executed with each call's values.

Why: on the hot reads (users/me, the posts page) Django spent ~4 ms per request building and
compiling the same querysets, against ~0.1 ms for the database to run their SQL (docs/bench.md,
"Prepared selectors"). The SQL of such a query never changes between requests; only a few values
do (the caller's id, the presence cutoffs, which page).

How: `prepared(build)` wraps a function that returns a queryset from keyword arguments, usually a
one-line call of the selector, so the selector stays the one definition of the query. On the first
call on a database, `build` is called with a placeholder (`Arg`) for each argument: an ORM
expression that compiles to a bound parameter (`%s`) and remembers which argument it stands for,
and any arithmetic done on it (`now - settings.PRESENCE_TTL`). The SQL and the parameter list are
kept; each call puts its own values in the placeholders' slots and runs the SQL on the calling
thread's connection (so query counting, execute wrappers and transactions see it like any other
query). Rows become model instances exactly as Django's ModelIterable makes them (select_related
objects and annotations included), from the compiler state kept with the SQL; the rows of a
`.values(...)` queryset become dicts, as Django's ValuesIterable makes them.

What must hold for a selector to be prepared (checked where it can be):

* every value that changes between calls is an argument. A value read inside the selector at build
  time (`timezone.now()` by default, a setting) would be frozen into the SQL; so the first build is
  done twice, and a parameter that differs between the two builds raises ImproperlyConfigured.
* arguments that change the *shape* of the SQL (slicing: Django writes LIMIT/OFFSET as literals;
  an optional filter) are named in `shape=`: they are passed as themselves and each distinct
  combination is compiled once (at most SHAPES_PER_QUERY kept, least recently used dropped).
* the SQL is kept per database alias and vendor, and dropped when a setting changes (tests) so a
  constant read from settings at build time is never stale.
"""

import contextlib
import functools
import inspect
import threading
from collections import OrderedDict
from datetime import datetime

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Expression, fields
from django.db.models.query import ValuesIterable, get_related_populators

SHAPES_PER_QUERY = 64


class Arg(Expression):
    """A call-time value in a prepared query: compiles to one bound parameter. Arithmetic with a
    plain value (`arg - timedelta(...)`) is done in Python at bind time, on the call's value.
    The value is bound as given (a datetime adapted as Django adapts it): pass the column's type,
    and no None where the ORM would have written `IS NULL` (`= NULL` matches nothing)."""

    def __init__(self, name: str, transform=None, output_field=None):
        super().__init__(output_field=output_field or fields.Field())
        self.name = name
        self.transform = transform

    def __repr__(self):
        return f"Arg({self.name!r}{', derived' if self.transform else ''})"

    def _derive(self, op):
        previous = self.transform
        return Arg(self.name, lambda v: op(previous(v) if previous else v), self._output_field_or_none)

    def __sub__(self, other):
        return self._derive(lambda v: v - other)

    def __add__(self, other):
        return self._derive(lambda v: v + other)

    def at(self, index: int) -> "Arg":
        """The call's value at `index` (a sequence argument, one parameter per item: the SQL
        has as many slots as the shape says, `Arg("topics").at(0)`...)."""
        return self._derive(lambda v: v[index])

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def bind(self, values: dict, connection):
        value = values[self.name]
        if self.transform is not None:
            value = self.transform(value)
        if isinstance(value, datetime):
            # What Value(now) would send: naive UTC text on SQLite, the aware datetime elsewhere.
            return _DATETIME.get_db_prep_value(value, connection)
        return value


def slots(count: int) -> int:
    """How many parameters a prepared query gives a list of `count` values (`Arg(...).at(i)` for
    i in range(slots)): the next power of two, so a handful of SQL shapes serve lists of every
    length (SHAPES_PER_QUERY are kept per query). `padded` fills the slots left over with NULL,
    which matches nothing: `x IN (..., NULL)` and `STRPOS(x, NULL) > 0` are never true."""
    return 1 << (count - 1).bit_length() if count else 0


def padded(values, count: int) -> list:
    """`values` as a list of `count` slots (see `slots`), the rest None."""
    values = list(values)
    return values + [None] * (count - len(values))


_DATETIME = fields.DateTimeField()  # stateless for get_db_prep_value; built once, not per call


def _bind(params, values, connection) -> list:
    return [p.bind(values, connection) if isinstance(p, Arg) else p for p in params]


class _Compiled:
    """One query's SQL with the compiler state needed to turn its rows into model instances."""

    def __init__(self, queryset, alias):
        compiler = queryset.query.get_compiler(using=alias)
        self.model = queryset.model
        self.names = None
        try:
            self.sql, self.params = compiler.as_sql()
        except EmptyResultSet:
            # Nothing can match (an empty slice, `pk__in=[]`): Django runs no query; neither do we.
            self.sql, self.params = None, ()
            return
        self.params = tuple(self.params)
        select, klass_info = compiler.select, compiler.klass_info
        columns = [s[0] for s in select[0 : compiler.col_count]]
        self.converters = list(compiler.get_converters(columns).items())
        if queryset._known_related_objects or queryset._prefetch_related_lookups:
            raise ImproperlyConfigured("prepared queries do not do prefetch_related or known related objects")
        if queryset._iterable_class is ValuesIterable:
            # A `.values(...)` query: rows become dicts named as Django names them.
            query = queryset.query
            self.names = (
                list(query.selected)
                if query.selected
                else [*query.extra_select, *query.values_select, *query.annotation_select]
            )
            return
        if klass_info is None:
            raise ImproperlyConfigured("prepared queries give model instances or .values() dicts")

        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.model_slice = slice(start, end)
        self.init_list = [f[0].target.attname for f in select[start:end]]
        self.related_populators = get_related_populators(klass_info, select, alias)
        self.annotations = list(compiler.annotation_col_map.items())

    def rows(self, cursor, params, connection):
        if self.sql is None:
            return
        cursor.execute(self.sql, params)
        for row in cursor.fetchall():
            if self.converters:
                row = list(row)
                for pos, (convs, expression) in self.converters:
                    value = row[pos]
                    for converter in convs:
                        value = converter(value, expression, connection)
                    row[pos] = value
            yield row

    def instances(self, cursor, params, connection, alias):
        if self.names is not None:
            names = self.names
            for row in self.rows(cursor, params, connection):
                yield dict(zip(names, row, strict=True))
            return
        for row in self.rows(cursor, params, connection):
            obj = self.model.from_db(alias, self.init_list, row[self.model_slice])
            for populator in self.related_populators:
                populator.populate(row, obj)
            for name, pos in self.annotations:
                setattr(obj, name, row[pos])
            yield obj


class _CompiledCount:
    """`queryset.count()` of the query, as Django counts a query it cannot count in place:
    COUNT(*) over the rows' primary keys (ordering dropped), so no SQL is written by hand."""

    def __init__(self, queryset, alias):
        try:
            inner, params = queryset.order_by().values("pk").query.get_compiler(using=alias).as_sql()
        except EmptyResultSet:
            self.sql, self.params = None, ()
            return
        self.sql = f"SELECT COUNT(*) FROM ({inner}) counted"  # noqa: S608 - Django's own compiled SQL
        self.params = tuple(params)


class Prepared:
    def __init__(self, build, *, shape=(), name=None):
        self.build = build
        self.name = name or getattr(build, "__qualname__", repr(build))
        self.shape = tuple(shape)
        signature = inspect.signature(build)
        self.arg_names = [n for n in signature.parameters if n not in self.shape]
        self._compiled = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<prepared {self.name}>"

    # -- compiling --------------------------------------------------------------------------

    def _queryset(self, shape_values):
        return self.build(**shape_values, **{n: Arg(n) for n in self.arg_names})

    def _check_stable(self, first, second):
        """Two builds must give the same SQL and the same constants: a difference is a value the
        selector computed itself (a clock read) that would otherwise be frozen into the SQL."""
        same = first.sql == second.sql and len(first.params) == len(second.params)
        if same:
            for a, b in zip(first.params, second.params, strict=True):
                if isinstance(a, Arg) != isinstance(b, Arg) or (not isinstance(a, Arg) and a != b):
                    same = False
                    break
        if not same:
            raise ImproperlyConfigured(
                f"{self.name}: its SQL or a constant changed between two builds; pass every value "
                f"that changes between calls (like `now`) as an argument"
            )

    def _get(self, kind, alias, shape_values):
        key = (kind, alias, connections[alias].vendor, tuple(sorted(shape_values.items())))
        compiled = self._compiled.get(key)
        if compiled is not None:
            # Keep recently used shapes; a dict move is atomic enough under the GIL.
            with contextlib.suppress(KeyError):  # dropped by another thread meanwhile
                self._compiled.move_to_end(key)
            return compiled
        kind_class = _Compiled if kind == "rows" else _CompiledCount
        compiled = kind_class(self._queryset(shape_values), alias)
        self._check_stable(compiled, kind_class(self._queryset(shape_values), alias))
        with self._lock:
            self._compiled[key] = compiled
            while len(self._compiled) > SHAPES_PER_QUERY:
                self._compiled.popitem(last=False)
        return compiled

    def clear(self):
        with self._lock:
            self._compiled.clear()

    def _split(self, kwargs):
        shape_values = {n: kwargs.pop(n) for n in self.shape}
        missing = set(self.arg_names) - set(kwargs)
        if missing or set(kwargs) - set(self.arg_names):
            raise TypeError(f"{self.name} takes {self.shape + tuple(self.arg_names)}, got {sorted(kwargs)}")
        return shape_values, kwargs

    # -- running ----------------------------------------------------------------------------

    def _instances(self, using, kwargs):
        shape_values, values = self._split(kwargs)
        compiled = self._get("rows", using, shape_values)
        connection = connections[using]
        if compiled.sql is None:
            return compiled.model, []
        params = _bind(compiled.params, values, connection)
        with connection.cursor() as cursor:
            return compiled.model, list(compiled.instances(cursor, params, connection, using))

    def list(self, *, using=DEFAULT_DB_ALIAS, **kwargs) -> list:
        """The query's model instances, as `list(queryset)` would give them."""
        return self._instances(using, kwargs)[1]

    def get(self, *, using=DEFAULT_DB_ALIAS, **kwargs):
        """The one instance, like `queryset.get()`: the model's DoesNotExist when there is none,
        MultipleObjectsReturned when there are several (filter on a unique key)."""
        model, found = self._instances(using, kwargs)
        if not found:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        if len(found) > 1:
            raise model.MultipleObjectsReturned(f"{self.name} returned {len(found)} rows")
        return found[0]

    def count(self, *, using=DEFAULT_DB_ALIAS, **kwargs) -> int:
        """`queryset.count()` of the query."""
        shape_values, values = self._split(kwargs)
        compiled = self._get("count", using, shape_values)
        if compiled.sql is None:
            return 0
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, _bind(compiled.params, values, connection))
            (number,) = cursor.fetchone()
        return number


_all: list[Prepared] = []


def prepared(build=None, *, shape=(), name=None):
    """Decorator (or function) making a Prepared query of `build(**kwargs) -> QuerySet`."""
    if build is None:
        return functools.partial(prepared, shape=shape, name=name)
    query = Prepared(build, shape=shape, name=name)
    _all.append(query)
    return query


def clear_all(**kwargs):
    for query in _all:
        query.clear()


# A setting read at build time (PRESENCE_TTL, USE_TZ...) is part of the kept SQL or its
# constants: a test that overrides one gets fresh SQL.
setting_changed.connect(clear_all)


class PreparedList:
    """A prepared query as Django's Paginator (and DRF's pagination) takes a queryset: slicing
    runs the page's SQL, `count()` the count's. `build` must take `low` and `high` (shape
    arguments) and slice its queryset with them. `page_cache` (a common.page_cache.PageCache),
    when given, is where common.pagination may serve the list's first pages from, under
    `page_version` when the caller read the version already (PageCache.get)."""

    ordered = True  # the build orders its queryset; Paginator only asks

    def __init__(
        self, query: Prepared, *, using=DEFAULT_DB_ALIAS, page_cache=None, page_version=None, **values
    ):
        self.query, self.using, self.values = query, using, values
        self.page_cache, self.page_version = page_cache, page_version

    def count(self) -> int:
        return self.query.count(using=self.using, low=None, high=None, **self.values)

    def __len__(self):
        return self.count()

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step is not None:
            raise TypeError("a prepared list is sliced, not indexed")
        return self.query.list(using=self.using, low=item.start, high=item.stop, **self.values)
