#!/usr/bin/env python
"""The whole worker's instructions per email, this tree against a baseline revision: a count, not a timing.

    .venv/bin/python bench/worker_instructions.py                     # against the default baseline, PostgreSQL
    .venv/bin/python bench/worker_instructions.py --database both --emails 400

bench/checkout.py times the worker's CPU per email, which moves by 10 to 20 % from one run to the next on a
shared machine. This counts instead: each tree's production worker (2 prefork pool processes, as in
bench/checkout.py) runs under valgrind's callgrind, which counts the instructions every process executes in
user space (the worker and its pool children alike), and repeats to within a fraction of a percent whatever
else the machine is doing. Each tree's worker drains a batch of --warm emails, then a fresh one drains
--warm + --emails; the difference, divided by --emails, is the cost of one email with the start-up taken
out. What the kernel does for the worker (sockets, pipes) and what memory stalls cost are not instructions:
bench/checkout.py's CPU time includes them, this does not. Needs valgrind (apt-get install -y valgrind).
"""

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkout import DEFAULT_BASELINE, Tree, against_baseline, log, run_driver  # noqa: E402
from testkit.processes import Process, worker_command  # noqa: E402
from testkit.waiting import wait_until  # noqa: E402

TOTAL = re.compile(rb"^(?:summary|totals): (\d+)", re.M)


def worker_instructions(tree, emails, out_dir, name):
    """Place `emails` orders with the worker stopped, then drain them with a worker under callgrind; return the
    instructions of all its processes, start to exit."""
    placed_before = tree.orders()
    run_driver(tree, 1, emails, seed=emails)
    placed = tree.orders()
    if placed - placed_before != emails:
        raise RuntimeError(f"{tree.label}: {placed - placed_before} orders placed, not {emails}")
    out_dir.mkdir()
    worker = Process(
        name,
        [
            "valgrind",
            "--tool=callgrind",
            "--trace-children=yes",
            f"--callgrind-out-file={out_dir}/callgrind.%p",
            *worker_command(name=name, concurrency=2),
        ],
        tree.env,
        tree.logs,
        cwd=tree.path,
    )
    try:
        wait_until(
            lambda: tree.emails_sent() >= placed or not worker.alive(),
            timeout=1800,
            interval=1,
            what=f"the {tree.label} worker under callgrind to send {emails} emails",
        )
        if not worker.alive():
            raise RuntimeError(f"the {tree.label} worker exited:\n{worker.log()[-3000:]}")
    finally:
        worker.popen.send_signal(signal.SIGTERM)  # a warm shutdown: every process writes its counts as it exits
        try:
            worker.popen.wait(timeout=900)
        except subprocess.TimeoutExpired:
            worker.kill()
            raise
    files = list(out_dir.glob("callgrind.*"))
    counts = [TOTAL.search(path.read_bytes()) for path in files]
    if not files or not all(counts):
        raise RuntimeError(f"no complete callgrind output in {out_dir}")
    return sum(int(match.group(1)) for match in counts), len(files)


def bench_database(database, baseline_path, args, workdir, node):
    trees, result = {}, {}
    try:
        for label, path, redis_db in (("new", ROOT, 14), ("baseline", baseline_path, 15)):
            trees[label] = Tree(label, path, database, node, redis_db, workdir / database, args)
            trees[label].worker.stop()  # the orders wait in the queue for the worker under callgrind
        for label, tree in trees.items():
            counts = {}
            for emails in (args.warm, args.warm + args.emails):
                log(f"{database}, {label}: {emails} emails through a worker under callgrind")
                counts[emails], processes = worker_instructions(
                    tree, emails, workdir / database / f"callgrind-{label}-{emails}", f"count-{label}-{emails}"
                )
                log(f"{database}, {label}: {counts[emails]:,} instructions in {processes} processes")
            result[label] = (counts[args.warm + args.emails] - counts[args.warm]) / args.emails
    finally:
        for tree in trees.values():
            tree.close()
    result["new_over_baseline"] = result["new"] / result["baseline"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="a git revision (default: %(default)s)")
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="postgresql")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--emails", type=int, default=300, help="emails counted per tree (default: %(default)s)")
    parser.add_argument("--warm", type=int, default=60, help="emails of the start-up run (default: %(default)s)")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench-worker-instructions.json")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    # bench.checkout's Tree starts the web tier as bench/checkout.py runs it; the orders come through it.
    args.gunicorn_workers, args.gunicorn_threads, args.worker_processes = 2, 1, 2

    began = time.monotonic()
    revision, results = against_baseline(args, bench_database)
    report = {"baseline": revision, "emails": args.emails, "warm": args.warm, "databases": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(
        f"\nworker instructions per email (callgrind, user space, the worker and its 2 pool processes): this tree "
        f"vs baseline {revision}, {args.emails} emails each, {time.monotonic() - began:.0f} s\n"
    )
    print(f"{'':<12} {'baseline':>12} {'this tree':>12} {'ratio':>7}")
    for database, result in report["databases"].items():
        print(
            f"{database:<12} {result['baseline']:>12,.0f} {result['new']:>12,.0f} {result['new_over_baseline']:>7.3f}"
        )
    print(json.dumps({database: result["new_over_baseline"] for database, result in report["databases"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
