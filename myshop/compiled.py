"""Querysets compiled once: the lookups every order makes, without Django compiling them on every call; and
inserts written once (CompiledInsert, at the end): the checkout's order lines and stock moves.

Django builds a queryset's SQL afresh each time it runs one. For the shop's hottest lookups (the product
page's product, the cart's products, the checkout's locked rows, the worker's order) building and compiling
took about half of each query's CPU in the process. `CompiledQuery(make_queryset, *kinds)` has Django compile
`make_queryset(*markers)` once per thread and per shape (the length of each list argument), with markers of
the declared kinds where the arguments go. Each call then runs that SQL with the real arguments and builds the
objects as the ORM would: `Model.from_db`, the select_related objects cached on each, the database's
converters applied.

Only plain model querysets: filters, one level of forward select_related, order_by, slicing,
select_for_update. Anything else (annotations, values(), prefetch_related, only/defer), a query whose SQL
changes with its arguments' values, or an argument that does not become exactly one parameter, is refused
when first compiled. An argument of another kind, an int beyond 32 bits, or a list that is empty or longer
than `max_list` runs through the ORM as usual. This leans on the compiler's internals (`klass_info`,
`get_converters`, `apply_converters`) as Django's own iterables use them, unchanged across Django 5.2 LTS,
which is pinned; tests/test_compiled_queries.py holds every query the shop compiles to the ORM's result,
field by field, on both databases, and fails if a Django upgrade changes what these internals give.
"""

import threading

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models.expressions import DatabaseDefault
from django.db.models.query import ModelIterable
from django.db.models.sql import InsertQuery
from django.db.transaction import TransactionManagementError

# Arguments are put into the compiled SQL's parameters as they are, skipping the ORM's own handling of the value
# (a field's conversion, and Django folding away a comparison with a number outside the field's range): only
# the declared kinds, strings and ints in the range of a 32-bit field, for which that handling changes nothing.
# Any other argument (a bigger number, a string for a number, None) goes through the ORM.
_INT_RANGE = range(-(2**31), 2**31)

# The markers compiled in the arguments' places: numbers inside every integer field's range (Django folds a
# lookup whose value lies outside), two different sets, compiled both ways to check that the SQL is the same.
_MARKER_SETS = (31_000, 32_000)
_MAX_MARKERS = 700  # markers per call, so that each set stays below 32767 and clear of the other

# An int argument may only be compared for equality (exact, in) with a field at least 32 bits wide: Django
# answers a comparison with a value outside a narrower field's range without asking the database.
_WIDE_INTEGER_FIELDS = {
    "AutoField",
    "BigAutoField",
    "IntegerField",
    "BigIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
}


class CompiledQuery:
    """`query(*arguments)` gives `list(make_queryset(*arguments))`, compiled once per thread and shape.

    `kinds` says what each argument is: `int`, `str`, or `[int]` / `[str]` for a list of them. An argument of
    another kind, an int beyond 32 bits, or a list that is empty or longer than `max_list` goes through the ORM.
    `make_queryset` must depend on its arguments alone: whatever else it reads (a setting, today's date) is
    read once per thread, when it is first compiled.
    """

    def __init__(self, make_queryset, *kinds, alias=DEFAULT_DB_ALIAS, max_list=32):
        if not 0 < max_list <= _MAX_MARKERS:
            raise ValueError(f"max_list must be between 1 and {_MAX_MARKERS}")
        if not all(kind in (int, str) or kind in ([int], [str]) for kind in kinds):
            raise ValueError("each kind is int, str, [int] or [str]")
        self.make_queryset = make_queryset
        self.kinds = kinds
        self.alias = alias
        self.max_list = max_list
        self._local = threading.local()

    def __call__(self, *arguments):
        plan = self._plan(arguments)
        if plan is None:
            return list(self.make_queryset(*arguments))
        return plan.run(arguments)

    def after(self, with_clause, with_params, *arguments):
        """The query run in one statement after `with_clause` (`WITH name AS (...)`, with `with_params`): on
        PostgreSQL, a data-modifying statement and the read that follows it in one round trip. The queryset
        may name the WITH's result (a RawSQL filter) to read only if it changed a row. Returns the objects,
        or None when the arguments go through the ORM (see the class): the caller then runs its own."""
        plan = self._plan(arguments)
        if plan is None:
            return None
        return plan.run(arguments, prefix=(with_clause, with_params))

    def _plan(self, arguments):
        """The compiled plan for these arguments, or None when they go through the ORM."""
        if (
            len(arguments) != len(self.kinds)
            or not all(map(self._fits, self.kinds, arguments))
            or sum(len(argument) if isinstance(kind, list) else 1 for kind, argument in zip(self.kinds, arguments))
            > _MAX_MARKERS
        ):
            return None
        shape = tuple(
            len(argument) if isinstance(kind, list) else None for kind, argument in zip(self.kinds, arguments)
        )
        plans = getattr(self._local, "plans", None)
        if plans is None:
            plans = self._local.plans = {}
        plan = plans.get(shape)
        if plan is None:
            plan = plans[shape] = _Plan(self.make_queryset, self.alias, self.kinds, shape)
        return plan

    def _fits(self, kind, value):
        if isinstance(kind, list):
            return (
                type(value) in (list, tuple)
                and 0 < len(value) <= self.max_list
                and all(_scalar_fits(kind[0], element) for element in value)
            )
        return _scalar_fits(kind, value)


def _scalar_fits(kind, value):
    return type(value) is kind and (kind is str or value in _INT_RANGE)


def _markers(kinds, shape, base):
    """A marker of its argument's kind for each argument (each element of a list), all different."""
    counter = iter(range(900))

    def marker(kind):
        number = next(counter)
        return f"\x00compiled-marker-{base + number}" if kind is str else base + number

    return [
        [marker(kind[0]) for _ in range(length)] if isinstance(kind, list) else marker(kind)
        for kind, length in zip(kinds, shape)
    ]


def _compiled(make_queryset, alias, markers):
    queryset = make_queryset(*markers)
    query = queryset.query
    if (
        queryset._iterable_class is not ModelIterable
        or queryset._prefetch_related_lookups
        or queryset._known_related_objects
        or query.annotation_select
        or query.extra_select
        or query.deferred_loading != (frozenset(), True)
    ):
        raise ValueError("CompiledQuery takes plain model querysets only")
    if queryset.db != alias:
        raise ValueError(f"the queryset runs on {queryset.db!r}, not on {alias!r}")
    _check_int_lookups(query, markers)
    compiler = query.get_compiler(using=alias)
    try:
        sql, params = compiler.as_sql()
    except (EmptyResultSet, FullResultSet) as error:  # Django answered from the value alone
        raise ValueError("the query's SQL depends on its arguments' values; it cannot be compiled once") from error
    return query, compiler, sql, list(params)


def _lookups(node):
    """The lookups of a WHERE tree."""
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for child in children:
        yield from _lookups(child)


def _check_int_lookups(query, markers):
    """Refuse an int argument compared otherwise than for equality, or with a field narrower than 32 bits."""
    ints = {
        value
        for marker in markers
        for value in (marker if isinstance(marker, list) else [marker])
        if isinstance(value, int)
    }
    for node in _lookups(query.where):
        values = getattr(node, "rhs", None)
        values = values if isinstance(values, (list, tuple, set)) else [values]
        if not any(type(value) is int and value in ints for value in values):
            continue
        field = getattr(node.lhs, "output_field", None)
        internal_type = getattr(field, "target_field", field).get_internal_type() if field is not None else None
        if node.lookup_name not in ("exact", "in") or internal_type not in _WIDE_INTEGER_FIELDS:
            raise ValueError(f"an int argument is compared by {node.lookup_name!r} with a {internal_type}")


class _Plan:
    """One shape of one query: its SQL, where each argument goes in its parameters, and the row layout."""

    def __init__(self, make_queryset, alias, kinds, shape):
        markers, other_markers = (_markers(kinds, shape, base) for base in _MARKER_SETS)
        query, self.compiler, self.sql, self.params = _compiled(make_queryset, alias, markers)
        _, _, other_sql, other_params = _compiled(make_queryset, alias, other_markers)
        self.alias = alias
        self.select_for_update = query.select_for_update
        # Where each argument (each element of a list argument) goes among the parameters: exactly once, and the
        # only parameters that change with the arguments (else a lookup was rewritten for the value it saw).
        self.slots = []
        for argument_index, marker in enumerate(markers):
            for element_index, value in enumerate(marker if isinstance(marker, list) else [marker]):
                positions = [i for i, param in enumerate(self.params) if type(param) is type(value) and param == value]
                if len(positions) != 1:
                    raise ValueError(f"argument {argument_index} does not become exactly one SQL parameter")
                element = element_index if isinstance(marker, list) else None
                self.slots.append((positions[0], argument_index, element))
        changed = [i for i, (one, other) in enumerate(zip(self.params, other_params)) if one != other]
        if (
            other_sql != self.sql
            or len(other_params) != len(self.params)
            or sorted(changed) != sorted(position for position, _, _ in self.slots)
        ):
            raise ValueError("the query's SQL depends on its arguments' values; it cannot be compiled once")
        select = self.compiler.select
        self.converters = self.compiler.get_converters([column for column, _, _ in select])
        info = self.compiler.klass_info

        def layout(klass_info):
            fields = klass_info["select_fields"]
            model = klass_info["model"]
            names = [select[i][0].target.attname for i in fields]
            return model, names, fields, names.index(model._meta.pk.attname)

        self.layout = layout(info)
        self.related = []  # (layout, the field to cache it on)
        for related in info.get("related_klass_infos", []):
            if (
                related.get("related_klass_infos")
                or related.get("reverse")
                or related.get("from_parent")
                or related["field"].unique  # a one-to-one: the ORM caches the reverse side too
            ):
                raise ValueError("CompiledQuery takes one level of forward, many-to-one select_related only")
            self.related.append((layout(related), related["field"]))

    def run(self, arguments, prefix=None):
        connection = connections[self.alias]
        if (
            self.select_for_update
            and connection.features.has_select_for_update
            and connection.features.supports_transactions
            and connection.get_autocommit()
        ):
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(self.params)
        for position, argument_index, element in self.slots:
            argument = arguments[argument_index]
            params[position] = argument if element is None else argument[element]
        sql = self.sql
        if prefix is not None:
            sql, params = f"{prefix[0]} {sql}", [*prefix[1], *params]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        objects = []
        for row in rows:
            instance = _from_row(self.alias, self.layout, row)
            for related_layout, field in self.related:
                field.set_cached_value(instance, _from_row(self.alias, related_layout, row))
            objects.append(instance)
        return objects


def _from_row(alias, layout, row):
    model, names, positions, pk_index = layout
    values = [row[position] for position in positions]
    if values[pk_index] is None:  # an empty LEFT JOIN: no related object, as the ORM gives
        return None
    return model.from_db(alias, names, values)


# --- Inserts ----------------------------------------------------------------------------------------------

_AUTO_KEYS = {"AutoField", "BigAutoField", "SmallAutoField"}


class CompiledInsert:
    """`insert(instances)` does what `Model.objects.bulk_create(instances)` does for new instances, in one INSERT
    written once per thread and number of rows instead of built and compiled by Django on every call.

    As bulk_create: no save(), no signals; the related objects' keys taken as bulk_create takes them; each
    field's `pre_save` and `get_db_prep_save` applied to its value; the primary key and the fields with a
    database default (`db_default`) set on each instance from RETURNING, through the database's converters; an
    error marking the caller's atomic block for rollback; the instances returned. A model with a parent table,
    generated fields or a primary key of its own making is refused when constructed. More than `max_rows`
    instances, an instance whose primary key is set, a value that is an expression, instances that leave
    different fields to the database, or a database that cannot return inserted rows: bulk_create itself.
    """

    def __init__(self, model, *, alias=DEFAULT_DB_ALIAS, max_rows=32):
        opts = model._meta
        if opts.parents or any(field.generated for field in opts.concrete_fields):
            raise ValueError("CompiledInsert takes models of one table without generated fields")
        if opts.pk.get_internal_type() not in _AUTO_KEYS:
            raise ValueError("CompiledInsert takes models whose primary key the database numbers")
        self.model = model
        self.alias = alias
        self.max_rows = max_rows
        self.fields = [field for field in opts.concrete_fields if field is not opts.pk]
        self.db_defaults = [field for field in self.fields if field.has_db_default()]
        self._local = threading.local()

    def __call__(self, instances):
        instances = list(instances)
        connection = connections[self.alias]
        if (
            not 0 < len(instances) <= self.max_rows
            or not connection.features.can_return_rows_from_bulk_insert
            or any(instance._is_pk_set() for instance in instances)
        ):
            return self._orm(instances)
        # Which db_default fields each instance leaves to the database: the same for all, or the ORM's way.
        left = {
            tuple(isinstance(getattr(obj, f.attname), DatabaseDefault) for f in self.db_defaults) for obj in instances
        }
        if len(left) != 1:
            return self._orm(instances)
        (left,) = left
        fields = [field for field in self.fields if field not in self._left_fields(left)]
        if not fields:  # nothing but defaults: the ORM's DEFAULT VALUES
            return self._orm(instances)
        for instance in instances:  # before anything is written, as bulk_create checks them
            instance._prepare_related_fields_for_save(operation_name="bulk_create")
        # An error from here on marks the caller's atomic block for rollback, as bulk_create's own block does.
        with transaction.mark_for_rollback_on_error(using=self.alias):
            params = []
            for instance in instances:
                for field in fields:
                    value = field.pre_save(instance, True)
                    if hasattr(value, "resolve_expression"):
                        return self._orm(instances)
                    params.append(field.get_db_prep_save(value, connection=connection))
            plans = getattr(self._local, "plans", None)
            if plans is None:
                plans = self._local.plans = {}
            plan = plans.get((len(instances), left))
            if plan is None:
                plan = plans[len(instances), left] = _InsertPlan(self.model, self.alias, fields, len(instances))
            return plan.run(instances, params)

    def _left_fields(self, left):
        return [field for field, is_left in zip(self.db_defaults, left) if is_left]

    def _orm(self, instances):
        return self.model._default_manager.db_manager(self.alias).bulk_create(instances)


class _InsertPlan:
    """One INSERT of `rows` rows: its SQL, and the converters of what it returns."""

    def __init__(self, model, alias, fields, rows):
        connection = connections[alias]
        opts = model._meta
        # What bulk_create reads back: the primary key and every db_default field, given a value or not (the
        # database's own value, through its converters: a datetime given as text comes back a datetime).
        returning = list(opts.db_returning_fields)
        quote = connection.ops.quote_name
        returning_sql, returning_params = connection.ops.return_insert_columns(returning)
        if returning_params:
            raise ValueError("CompiledInsert needs a database that returns inserted rows as a result set")
        self.sql = " ".join(
            [
                f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(field.column) for field in fields)})",
                connection.ops.bulk_insert_sql(fields, [["%s"] * len(fields)] * rows),
                returning_sql,
            ]
        )
        self.alias = alias
        self.returning = returning
        self.compiler = InsertQuery(model).get_compiler(using=alias)
        self.converters = self.compiler.get_converters([field.get_col(opts.db_table) for field in returning])

    def run(self, instances, params):
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        if len(rows) != len(instances):
            raise RuntimeError(f"the insert returned {len(rows)} rows for {len(instances)} instances")
        for instance, row in zip(instances, rows):
            for field, value in zip(self.returning, row):
                setattr(instance, field.attname, value)
            instance._state.adding = False
            instance._state.db = self.alias
        return instances
