"""Querysets compiled once (core/compiled.py): every lookup the shop compiles gives what the ORM gives, field by
field and with the same related objects, on SQLite and on PostgreSQL, in one statement. These fail first when a
Django upgrade changes the compiler internals the module relies on."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from core.compiled import CompiledQuery
from shop import lookups
from shop.models import Category, Product


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
    assert client.get(f"/en/product/{2**70}/{catalog[0].slug}/").status_code == 404
    assert client.post(f"/en/cart/add/{2**70}/", {"quantity": 1}).status_code == 404


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
