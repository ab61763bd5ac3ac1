"""What bench/soak.py and bench/soak_payments.py share: their common options and the run itself (shoppers
and a chaos thread, then waiting for every email to settle, then the report as a table and JSON)."""

import json
import shutil
import tempfile
import threading
import time
from pathlib import Path

from testkit.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


def add_common_arguments(parser, *, orders, json_name):
    parser.add_argument("--orders", type=int, default=orders)
    parser.add_argument("--shoppers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60, help="seconds over which the orders are placed")
    parser.add_argument("--database-url", help="a PostgreSQL database to create and drop (name with 'soak')")
    parser.add_argument("--settle-timeout", type=float, default=600)
    parser.add_argument("--json", type=Path, default=ROOT / "var" / json_name)
    parser.add_argument("--keep", action="store_true", help="keep the logs")


def run(soak_class, args, *, prefix, log, placed, settling, print_table):
    """Start soak_class(args, workdir); drive its shoppers while its chaos thread runs; wait until `settling`
    (what the event and the timeout name) has settled; print and write the report. Returns the exit code."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    soak = None
    try:
        soak = soak_class(args, workdir)
        chaos = threading.Thread(target=soak.chaos)
        chaos.start()
        for thread in soak.drive():
            thread.join()
        chaos.join()
        soak.event(f"{placed}; waiting for every {settling} to settle")
        wait_until(soak.settled, timeout=args.settle_timeout, interval=1, what=f"every {settling} to settle")
        time.sleep(5)  # late duplicates would arrive now
        result = soak.report()
    except BaseException:
        log(f"the soak failed; logs kept in {workdir}")
        args.keep = True
        raise
    finally:
        if soak is not None:
            soak.close()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print_table(result)
    print(json.dumps({key: value for key, value in result.items() if key != "events"}))
    return 0 if result["ok"] else 1
