"""Querysets compiled once per process: the lookups every order makes, without Django compiling them per call.

Django builds and compiles a queryset's SQL every time it runs one: for the product page, the cart, the
checkout's locked rows and the worker's order that was most of each lookup's CPU. This leans on the compiler's
internals; docs/decisions/compiled-queries.md says what it relies on and what it saves, and
tests/core/test_compiled_queries.py fails when a Django upgrade changes them.
"""

import threading

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.query import ModelIterable
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

    def run(self, arguments):
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
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
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
