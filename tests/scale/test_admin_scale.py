"""The order admin stays fast on a big table: no full count, and every list, search and filter is served by an
index. Checked on PostgreSQL's query plans at 20,000 orders; bench/admin_scale.py times it at a million."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import paginator
from orders.models import Order
from testkit.bulk_orders import load_orders

SIZE = 20_000
CHANGELIST = reverse("admin:orders_order_changelist")
# The tables that grow with the orders: none of them may be read whole to serve one admin page.
BIG_TABLES = ("orders_order", "orders_orderemail", "orders_orderitem")


@pytest.fixture
def many_orders(db, make_product):
    """SIZE orders over a year with their lines and emails (every 200th confirmation failed), written by
    PostgreSQL itself; statistics up to date. Returns one from the middle."""
    products = [make_product().id, make_product().id]
    with connection.cursor() as cursor:
        load_orders(cursor, SIZE, product_ids=products, failed_every=200, unconfirmed_every=700)
    return Order.objects.order_by("id")[SIZE // 2]


def served(admin_client, params):
    """The response and every SQL statement it ran (with parameters) for the order list with `params`."""
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    return response, [query["sql"] for query in captured.captured_queries]


def plan(sql):
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


# Nodes that read all of their input before giving a row: a LIMIT above them does not stop the scan below.
CONSUME_ALL = {"Sort", "Hash", "Aggregate", "Materialize", "Unique", "SetOp", "WindowAgg"}


def whole_table_reads(statements):
    """The statements whose plan reads a big table whole: a sequential scan with no LIMIT to stop it early."""
    found = []
    for sql in statements:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            tree = cursor.fetchone()[0]
        nodes = [(tree[0]["Plan"], False)]
        while nodes:
            node, stopped_early = nodes.pop()
            if node["Node Type"] == "Limit":
                stopped_early = True
            elif node["Node Type"] in CONSUME_ALL:
                stopped_early = False
            if node["Node Type"] == "Seq Scan" and node["Relation Name"] in BIG_TABLES and not stopped_early:
                found.append(f"{sql}\n{plan(sql)}")
            nodes.extend((child, stopped_early) for child in node.get("Plans", []))
    return found


# What an operator does, the parameters of the list's URL, and the index(es) that may serve the page.
CASES = [
    ("the list", {}, ["orders_order_pkey"]),
    ("the list, oldest first", {"o": "5"}, ["orders_order_pkey"]),
    ("search by number", "number", ["order_number_unique", "order_number_trgm_idx"]),
    ("search by part of a number", "number part", ["order_number_trgm_idx"]),
    ("search by email", "email", ["order_email_upper_idx"]),  # a whole address: the btree
    ("search by part of an email", "email part", ["order_email_trgm_idx"]),
    # "Grace Family1": a first name of every eighth order, and a part of every ninth order's last name (Family1,
    # Family10 ...): the planner reads the newest orders until a page is full, which is as quick.
    ("search by name", "name", ["order_last_name_trgm_idx", "order_first_name_trgm_idx", "orders_order_pkey"]),
    ("search by part of a name", "name part", ["order_last_name_trgm_idx"]),
    ("confirmation failed", {"confirmation": "failed"}, ["orderemail_kind_state_idx"]),
    ("status", {"status__exact": "cancelled"}, ["order_status_id_idx", "orders_order_pkey"]),
    ("status, oldest first", {"status__exact": "cancelled", "o": "5"}, ["order_status_id_idx", "orders_order_pkey"]),
    ("placed this month", "month", ["orders_order_pkey", "order_created_idx"]),
]


@pytest.mark.postgresql  # query plans, on the production database
def test_each_list_search_and_filter_reads_an_index_not_the_table(admin_client, many_orders):
    Order.objects.filter(id=many_orders.id).update(last_name="Anastasiadis")
    typed = {
        "number": {"q": many_orders.number},
        "email": {"q": many_orders.email.upper()},
        "name": {"q": f"{many_orders.first_name} {many_orders.last_name}"},
        "number part": {"q": many_orders.number[3:7].lower()},
        "email part": {"q": many_orders.email.split("@")[0][-6:]},
        "name part": {"q": "nastasi"},  # one order's
        "month": {
            "created__gte": (timezone.now() - timedelta(days=30)).isoformat(),
            "created__lt": (timezone.now() + timedelta(days=1)).isoformat(),
        },
    }
    for name, params, indexes in CASES:
        response, statements = served(admin_client, typed.get(params) if isinstance(params, str) else params)
        assert response.context["cl"].result_list, name
        [page_query] = [
            sql
            for sql in statements
            if sql.startswith("SELECT") and '"orders_order"."first_name"' in sql and "COUNT(" not in sql
        ]
        page_plan = plan(page_query)
        assert any(index in page_plan for index in indexes), f"{name}: {page_plan}"
        if "LIMIT" in page_query:  # a page of a longer list: read in its order, not sorted from all matches
            assert not re.search(r"^\s*(->  )?Sort\b", page_plan, re.M), f"{name}: {page_plan}"
        assert whole_table_reads(statements) == [], name


@pytest.mark.postgresql  # query plans, on the production database
def test_the_list_never_counts_the_whole_table(admin_client, many_orders, monkeypatch):
    monkeypatch.setattr(paginator, "EXACT_UP_TO", 1000)
    response, statements = served(admin_client, {})
    counts = [sql for sql in statements if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT 1001" in sql for sql in counts), counts
    cl = response.context["cl"]
    assert cl.paginator.count_is_estimate and abs(cl.result_count - SIZE) < SIZE / 5
    text = response.content.decode()
    assert re.search(r"about [\d,]+ orders", text)
    # The page links stop near the current page: pages at the end of an estimate may not exist.
    last_links = re.findall(r'href="\?p=(\d+)"', text)
    assert last_links and max(int(page) for page in last_links) <= 5
    with CaptureQueriesContext(connection) as outbox_list:
        assert admin_client.get(reverse("admin:orders_orderemail_changelist")).status_code == 200
    counts = [query["sql"] for query in outbox_list.captured_queries if "COUNT(" in query["sql"].upper()]
    assert counts and all("LIMIT 1001" in sql for sql in counts), counts


@pytest.mark.postgresql  # query plans, on the production database
def test_a_small_filtered_list_is_counted_exactly(admin_client, many_orders):
    response, statements = served(admin_client, {"confirmation": "failed"})
    cl = response.context["cl"]
    assert not cl.paginator.count_is_estimate and cl.result_count == SIZE // 200
    assert f"{SIZE // 200} orders" in response.content.decode()


def test_an_estimated_count_is_rounded_and_offers_no_pages_near_its_end():
    pages = paginator.EstimatingPaginator(range(10), 50)
    pages.count_is_estimate, pages.count = True, 1_234_567  # as the planner would say for a big table
    assert pages.count_text == "about 1,230,000"
    assert list(pages.get_elided_page_range(1)) == [1, 2, 3, 4, pages.ELLIPSIS]
    assert list(pages.get_elided_page_range(50)) == [1, 2, pages.ELLIPSIS, *range(47, 54), pages.ELLIPSIS]
    exact = paginator.EstimatingPaginator(range(10), 50)
    exact.count = 1_234_567
    assert exact.count_text == "1,234,567"
    assert list(exact.get_elided_page_range(1))[-2:] == [24691, 24692]


@pytest.mark.postgresql  # query plans, on the production database
def test_a_search_counts_its_matches_only_up_to_a_thousand(admin_client, many_orders):
    response, statements = served(admin_client, {"q": "ada"})  # every eighth order is Ada's: 2,500
    counts = [sql for sql in statements if "COUNT(" in sql.upper()]
    assert counts and all(f"LIMIT {paginator.SEARCH_EXACT_UP_TO + 1}" in sql for sql in counts), counts
    cl = response.context["cl"]
    assert cl.paginator.count_is_estimate and len(cl.result_list) == 50
    assert re.search(r"about [\d,]+ orders", response.content.decode())
    assert whole_table_reads(statements) == []
