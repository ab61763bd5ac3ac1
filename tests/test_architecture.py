"""The code says what it does: imports run one way, and the product's own sentence is in the code."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("shop", "cart", "orders", "payments", "myshop", "ops")


def project_imports(path):
    """Modules of this project that `path` imports, at any depth (deferred imports included)."""
    package = path.parent.name
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(f"{package}.{node.module.split('.')[0]}")
            elif node.level == 1:
                found.update(f"{package}.{alias.name}" for alias in node.names)
            elif node.module and node.module.split(".")[0] in APPS:
                found.add(".".join(node.module.split(".")[:2]))
        elif isinstance(node, ast.Import):
            found.update(
                ".".join(alias.name.split(".")[:2]) for alias in node.names if alias.name.split(".")[0] in APPS
            )
    return found


def module_graph():
    graph = {}
    for app in APPS:
        for path in (ROOT / app).glob("*.py"):
            graph[f"{app}.{path.stem}"] = project_imports(path) - {f"{app}.{path.stem}"}
    return graph


def test_no_two_modules_import_each_other_even_through_others():
    graph = module_graph()

    def reaches(start, goal, seen):
        for module in graph.get(start, ()):
            if module == goal:
                return True
            if module not in seen:
                seen.add(module)
                if reaches(module, goal, seen):
                    return True
        return False

    cycles = [module for module in graph if reaches(module, module, set())]
    assert cycles == [], f"import cycles through {cycles}"


def test_the_outbox_imports_no_task_module():
    assert not {module for module in module_graph()["orders.outbox"] if module.endswith(".tasks")}


def test_checkout_hands_the_confirmation_over_as_the_product_says():
    """Once committed, `order_created.delay(order.id)`; in a request, once the thank-you page is sent too."""
    source = (ROOT / "orders" / "services.py").read_text()
    assert "transaction.on_commit(lambda: after_response(lambda: order_created.delay(order.id)))" in source
