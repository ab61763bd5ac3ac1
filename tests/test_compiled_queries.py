"""Querysets compiled once (myshop/compiled.py): every lookup the shop compiles gives what the ORM gives,
field by field and with the same related objects, on SQLite and on PostgreSQL, in one statement; every insert
written once leaves the rows and the instances bulk_create leaves."""

import threading
import zoneinfo
from datetime import UTC, datetime
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.contrib.sessions.models import Session
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.query import QuerySet
from django.db.transaction import TransactionManagementError

from myshop.compiled import CompiledInsert, CompiledQuery
from orders.models import Order, OrderItem
from shop import lookups, stock
from shop.models import Category, Product, StockMovement


def fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def same(compiled, orm):
    """Both as the ORM would give them: equal fields of equal types, from the database, related objects alike."""
    assert fields(compiled) == fields(orm)
    assert {name: type(value) for name, value in fields(compiled).items()} == {
        name: type(value) for name, value in fields(orm).items()
    }
    assert not compiled._state.adding and compiled._state.db == orm._state.db


@pytest.fixture
def catalog(make_product):
    shelf = Category.objects.create(name="Shelf <&>", slug="shelf")
    return [
        make_product(name="Blue mug", price=Decimal("7.00"), stock=3, category=shelf, description="Tall\nand blue"),
        make_product(name="Teapot", price=Decimal("1234.56"), stock=0),
        make_product(name="Withdrawn lamp", available=False),
        make_product(name="Vase", price=Decimal("0.10"), stock=2**31 - 1),
    ]


def test_the_product_page_lookup_gives_the_orm_product_and_its_category(catalog, django_assert_num_queries):
    for product in catalog:
        orm = Product.objects.select_related("category").filter(id=product.id, slug=product.slug, available=True)
        with django_assert_num_queries(1):
            found = lookups.product_on_sale(product.id, product.slug)
        if not product.available:
            assert found is None and not orm.exists()
            continue
        [orm] = orm
        same(found, orm)
        same(found.category, orm.category)
        with django_assert_num_queries(0):  # the category came with the product
            assert found.category.name == orm.category.name
    assert lookups.product_on_sale(catalog[0].id, catalog[1].slug) is None  # a slug of another product
    assert lookups.product_on_sale(catalog[-1].id + 1000, "no-such") is None


def test_the_cart_lookups_give_what_in_bulk_gives(catalog, django_assert_num_queries):
    ids = [product.id for product in catalog] + [catalog[-1].id + 1000]  # one that does not exist
    for chosen in (ids[:1], ids[1:3], ids, ids[::-1], [ids[0], ids[0]]):
        for compiled, orm in (
            (lookups.available_products, Product.objects.filter(available=True)),
            (lookups.products, Product.objects.all()),
        ):
            with django_assert_num_queries(1):
                found = compiled(chosen)
            expected = orm.in_bulk(chosen)
            assert found.keys() == expected.keys()
            for product_id, product in found.items():
                same(product, expected[product_id])
    assert lookups.products([]) == {} and lookups.available_products([]) == {}


def test_a_list_longer_than_the_compiled_ones_goes_through_the_orm_with_the_same_result(catalog):
    many = [product.id for product in catalog] * 10  # 40 ids: beyond max_list
    assert lookups.products(many).keys() == Product.objects.in_bulk(many).keys()


@pytest.mark.django_db(transaction=True)  # outside the test's own transaction, autocommit is on
def test_the_checkout_lookup_locks_like_select_for_update_and_only_inside_a_transaction(catalog):
    ids = [product.id for product in catalog]
    with transaction.atomic():
        found = lookups.locked_products(ids)
        expected = Product.objects.select_for_update().in_bulk(ids)
        assert found.keys() == expected.keys()
        for product_id, product in found.items():
            same(product, expected[product_id])
    if connection.features.has_select_for_update:
        with pytest.raises(TransactionManagementError):
            lookups.locked_products(ids)


def test_the_checkout_lookup_says_for_update_where_the_database_has_it(catalog, django_assert_num_queries):
    with transaction.atomic(), django_assert_num_queries(1) as queries:
        lookups.locked_products([catalog[0].id])
    assert ("FOR UPDATE" in queries.captured_queries[0]["sql"]) == connection.features.has_select_for_update


def test_the_available_product_lookup_refuses_a_withdrawn_one(catalog):
    assert lookups.available_product(catalog[0].id).name == "Blue mug"
    assert lookups.available_product(catalog[2].id) is None


@pytest.mark.django_db(transaction=True)  # the other threads see only what is committed
def test_each_thread_compiles_its_own_and_gets_the_same_objects(catalog):
    """Each thread its own plan (the converters belong to the thread's connection), the same objects."""
    ids = [product.id for product in catalog]
    results, plans = {}, {}

    def lookup(name):
        try:
            results[name] = {product_id: fields(product) for product_id, product in lookups.products(ids).items()}
            plans[name] = lookups._in._local.plans[(len(ids),)]
        finally:
            connection.close()  # the thread's own connection

    lookup("main")
    threads = [threading.Thread(target=lookup, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = {product_id: fields(product) for product_id, product in Product.objects.in_bulk(ids).items()}
    assert results == {"main": expected, "a": expected, "b": expected}
    assert len({id(plan) for plan in plans.values()}) == 3


def test_arguments_of_another_type_or_beyond_32_bits_go_through_the_orm(catalog, client):
    """A string where the field holds numbers (the ORM converts it, the compiled SQL would not), or a number
    the ORM answers without asking the database (beyond the field's range): as the ORM does."""
    assert lookups.products([str(catalog[0].id)]).keys() == {catalog[0].id}
    assert lookups.product_on_sale(2**70, catalog[0].slug) is None
    assert client.get(f"/product/{2**70}/{catalog[0].slug}/").status_code == 404
    assert client.post(f"/cart/add/{2**70}/", {"quantity": 1}).status_code == 404


def test_querysets_it_cannot_rebuild_are_refused_when_first_compiled(catalog):
    for make in (
        lambda product_id: Product.objects.filter(id=product_id).values("name"),
        lambda product_id: Product.objects.filter(id=product_id).prefetch_related("category"),
        lambda product_id: Product.objects.filter(id=product_id).only("name"),
        lambda product_id: Product.objects.filter(id=product_id, stock__gt=product_id),  # the argument twice
        lambda product_id: Product.objects.filter(id=product_id, stock__gt=product_id * 10**9),  # folded by Django
        lambda product_id: Product.objects.filter(id=product_id if product_id % 2 else 1),  # SQL by value
        lambda product_id: Product.objects.filter(stock__gte=product_id),  # not equality: folded by range
        lambda product_id: Product.objects.using("other").filter(id=product_id),  # another database
    ):
        with pytest.raises(ValueError):
            CompiledQuery(make, int)(catalog[0].id)


# --- Inserts ----------------------------------------------------------------------------------------------


def rows(model, ids):
    """The rows of these ids as the database holds them, read back through the ORM, without the id."""
    found = model.objects.in_bulk(ids)
    return [{name: value for name, value in fields(found[pk]).items() if name != "id"} for pk in ids]


def lines_and_movements(order, catalog):
    """Fresh instances for both inserts the checkout makes: its order lines, and the stock moves they cause."""
    lines = [
        OrderItem(order=order, product=product, price=product.price, quantity=n + 1)
        for n, product in enumerate(catalog)
    ]
    movements = [
        StockMovement(product=product, delta=-(n + 1), balance=n, reason="sold", order_id=order.id, note="<&> “x”")
        for n, product in enumerate(catalog)
    ]
    return lines, movements


@pytest.fixture
def order(customer):
    return Order.objects.create(number="MS-TEST-0001", **customer)


@pytest.mark.parametrize("count", [1, 2, 4])
def test_the_checkout_inserts_leave_the_rows_and_instances_bulk_create_leaves(
    catalog, order, count, django_assert_num_queries
):
    other_order = Order.objects.create(number="MS-TEST-0002", email="b@example.com")
    for index, model in enumerate((OrderItem, StockMovement)):
        insert = CompiledInsert(model)
        compiled = lines_and_movements(order, catalog[:count])[index]
        orm = lines_and_movements(other_order, catalog[:count])[index]
        with django_assert_num_queries(1), patch.object(QuerySet, "bulk_create", side_effect=AssertionError):
            assert insert(compiled) == compiled  # the same instances, in order, written without bulk_create
        model.objects.bulk_create(orm)
        # Each instance has its own row's id and values (created from the database's clock, converted alike).
        assert [instance.pk for instance in compiled] == sorted(instance.pk for instance in compiled)
        assert [fields(instance) for instance in compiled] == [
            fields(row) for row in model.objects.filter(pk__in=[i.pk for i in compiled]).order_by("pk")
        ]
        for mine, theirs in zip(compiled, orm):
            assert {name: type(value) for name, value in fields(mine).items()} == {
                name: type(value) for name, value in fields(theirs).items()
            }
            assert not mine._state.adding and mine._state.db == theirs._state.db == "default"
        strip = lambda row: {k: v for k, v in row.items() if k not in ("order_id", "created")}  # noqa: E731
        assert [strip(row) for row in rows(model, [i.pk for i in compiled])] == [
            strip(row) for row in rows(model, [i.pk for i in orm])
        ]


def test_an_insert_it_cannot_write_once_goes_through_bulk_create_with_the_same_result(catalog, order):
    insert = CompiledInsert(StockMovement)
    earlier = StockMovement.objects.create(product=catalog[0], delta=1, balance=1, reason="received")
    chosen = StockMovement(product=catalog[0], delta=2, balance=3, reason="received", created=earlier.created)
    many = [
        StockMovement(product=catalog[0], delta=n + 1, balance=n, reason="received", note=str(n)) for n in range(36)
    ]
    cases = [  # (instances, the last one's delta as the database holds it)
        (many, 36),  # beyond max_rows
        ([StockMovement(product=catalog[0], delta=Value(5), balance=6, reason="received")], 5),  # an expression
        ([chosen, StockMovement(product=catalog[0], delta=3, balance=9, reason="received")], 3),  # one leaves it
    ]
    for instances, delta in cases:
        inserted = insert(instances)
        assert inserted == instances and all(i.pk is not None and not i._state.adding for i in inserted)
        assert StockMovement.objects.get(pk=inserted[-1].pk).delta == delta
    assert [movement.note for movement in StockMovement.objects.filter(pk__in=[m.pk for m in many])] == [
        str(n)
        for n in reversed(range(36))  # newest first, as the ledger orders them
    ]
    assert StockMovement.objects.get(pk=chosen.pk).created == earlier.created
    with pytest.raises(IntegrityError):  # a primary key given: bulk_create's own way, its own error
        with transaction.atomic():
            insert([StockMovement(id=earlier.id, product=catalog[0], delta=1, balance=1, reason="received")])


def test_an_unsaved_related_object_is_refused_as_bulk_create_refuses_it(catalog):
    unsaved = Order(number="MS-TEST-0003")
    with pytest.raises(ValueError, match="unsaved related object"):
        CompiledInsert(OrderItem)([OrderItem(order=unsaved, product=catalog[0], price=Decimal("1.00"))])


def test_models_it_cannot_insert_are_refused_when_declared():
    with pytest.raises(ValueError):
        CompiledInsert(Session)  # a primary key of its own making


@pytest.mark.parametrize(
    "given", ["2024-01-02T03:04:05+00:00", datetime(2024, 1, 2, 4, 4, 5, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))]
)
def test_a_database_default_given_a_value_is_read_back_as_bulk_create_reads_it(catalog, given):
    """What the database made of the value, converted: a text or another zone's time comes back as the ORM's."""

    def movement():
        return StockMovement(product=catalog[0], delta=1, balance=1, reason="received", created=given)

    with patch.object(QuerySet, "bulk_create", side_effect=AssertionError):
        [compiled] = CompiledInsert(StockMovement)([movement()])
    [orm] = StockMovement.objects.bulk_create([movement()])
    assert compiled.created == orm.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (type(compiled.created), compiled.created.utcoffset()) == (type(orm.created), orm.created.utcoffset())
    assert StockMovement.objects.get(pk=compiled.pk).created == compiled.created


WRITES = {  # each write that fails on a constraint (the ledger never records 0; stock is never below 0)
    "CompiledInsert": lambda product: CompiledInsert(StockMovement)(
        [StockMovement(product=product, delta=0, balance=1, reason="counted")]
    ),
    "bulk_create": lambda product: StockMovement.objects.bulk_create(
        [StockMovement(product=product, delta=0, balance=1, reason="counted")]
    ),
    "the written-out stock update": lambda product: stock._set_stock(product.id, -1),
    "update()": lambda product: Product.objects.filter(pk=product.id).update(stock=-1),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_failed_write_rolls_back_the_callers_block_as_the_orms_does(catalog, write):
    with transaction.atomic():
        Category.objects.create(name="Made in the block", slug="made-in-the-block")
        with pytest.raises(IntegrityError):
            WRITES[write](catalog[0])
    assert not Category.objects.filter(slug="made-in-the-block").exists()
    catalog[0].refresh_from_db()
    assert catalog[0].stock == 3
