"""Checkout benchmark (issue 6): `POST /payments` through the whole suite at c=16.

Every request is a real checkout with a fresh Idempotency-Key (tok_visa, one unit of one of
--products products, customers rotating over --customers accounts): gateway -> payments ->
catalog.get_products + catalog.reserve_stock -> card simulator -> ledger + outbox; the outbox
relay publishes payment_succeeded and the catalog commits each reservation. All services, the
gateway (one worker, rate limits off) run as `make run` runs them, on a throwaway vhost and
databases. After the rounds it checks the books: every 201 is one succeeded payment with one
charge, the ledger reconciles, and the catalog's stock moved once per paid unit.

    .venv/bin/python bench/checkout.py          # full run; rewrites docs/benchmarks.md#payments
    .venv/bin/python bench/checkout.py --quick  # smoke run, no doc update

Exit status: 0 ok, 1 errors or inconsistent books, 2 could not run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import suite
from common import wrk  # noqa: F401  (kept: part of this module's interface)
from summary import system_figures

ADMIN = ("bench-admin@suite.test", "bench-admin-password-1")
STOCK = 1_000_000
PROCS = ("gateway", "payments", "catalog", "auth")
GOAL_RPS, GOAL_P99_MS = 150.0, 150.0


def parse_args(argv):
    parser = common.parser(__doc__, connections=16)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--customers", type=int, default=16)
    return common.defaults(parser.parse_args(argv), rounds=(1, 3), duration=(5.0, 20.0),
                           warmup=(2.0, 5.0))


def lua_script(tokens, products, directory):
    """A unique Idempotency-Key per request: run id, a random id per wrk invocation, wrk thread,
    counter. Without the random part every wrk run of the same script (warm-up, each round)
    sent the keys of the run before, and measured stored replays instead of checkouts."""
    path = Path(directory) / "checkout.lua"
    listing = lambda values: ",".join(f'"{v}"' for v in values)  # noqa: E731
    path.write_text(f"""
local tokens = {{{listing(tokens)}}}
local products = {{{listing(products)}}}
local urandom = assert(io.open("/dev/urandom", "rb"))
local run = "{uuid.uuid4().hex[:12]}-" .. urandom:read(6):gsub(".", function(c)
  return string.format("%02x", c:byte()) end)
urandom:close()
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  local body = '{{"items":[{{"product_id":"' .. products[(n % #products) + 1] ..
               '","quantity":1}}],"payment_method":"tok_visa"}}'
  return wrk.format("POST", "/payments", {{
    ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1],
    ["Idempotency-Key"] = run .. "-" .. tostring(tid) .. "-" .. n,
    ["Content-Type"] = "application/json"}}, body)
end
""")
    return str(path)


def start(procs, env):
    port = suite.free_port()
    for service in ("auth", "catalog", "payments"):
        procs.start(service, suite.nameko_service(service), env)
    procs.start("gateway", [sys.executable, "-m", "gateway"],
                {**env, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    suite.wait_http_ok(f"{url}/readyz", procs, timeout=120)
    return url


def prepare_data(url, args):
    with httpx.Client(base_url=url, timeout=30) as http:
        def login(email, password):
            response = http.post("/auth/login", json={"email": email, "password": password})
            if response.status_code != 200:
                raise suite.BenchError(f"login failed: {response.status_code}")
            return response.json()["access_token"]

        admin = {"Authorization": f"Bearer {login(*ADMIN)}"}
        products = []
        for i in range(args.products):
            response = http.post("/products", headers=admin, json={
                "sku": f"BENCH-{i}-{uuid.uuid4().hex[:8]}", "name": f"Bench item {i}",
                "price": 1999, "stock": STOCK})
            if response.status_code != 201:
                raise suite.BenchError(f"creating a product failed: {response.text}")
            products.append(response.json()["id"])
        tokens = []
        for i in range(args.customers):
            email = f"bench-buyer-{i}-{uuid.uuid4().hex[:6]}@example.com"
            http.post("/auth/register", json={"email": email, "password": "bench password 1"})
            tokens.append(login(email, "bench password 1"))
    return products, tokens


def backends(databases):
    """PostgreSQL backend processes serving this run's databases ("postgres: ... <db> ...")."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if cmdline.startswith("postgres: ") and any(db in cmdline for db in databases):
                found.append(int(entry.name))
    return found


def rounds(binary, url, script, args, procs, databases):
    print(f"bench: warm-up {args.warmup:g} s", flush=True)
    common.wrk(binary, url, script, args.connections, args.warmup)
    pids = {name: procs.children[name].pid for name in PROCS}
    broker = suite.broker_pid()
    if broker is not None:
        pids["rabbitmq"] = broker
    samples = []
    for index in range(args.rounds):
        procs.check_alive()
        before = common.cpu_clocks(pids)
        pg_before = {pid: suite.cpu_seconds(pid) for pid in backends(databases)}
        busy = suite.machine_busy_seconds()
        result = common.wrk(binary, url, script, args.connections, args.duration)
        cpu = common.cpu_spent(pids, before)
        # Backends opened during the round count from zero; pools are warm after the warm-up.
        cpu["postgres"] = sum(suite.cpu_seconds(pid) - pg_before.get(pid, 0.0)
                              for pid in backends(databases))
        samples.append({"round": index + 1, **result.__dict__, "cpu_s": cpu,
                        "machine_busy_s": suite.machine_busy_seconds() - busy})
        print(f"bench: round {index + 1}: {result.rps:.1f} checkouts/s, p50 {result.p50_ms:.1f}"
              f" ms, p99 {result.p99_ms:.1f} ms, errors {result.errors}", flush=True)
    return samples


_IN_FLIGHT = ("SELECT (SELECT count(*) FROM payments WHERE status = 'pending')"
              " + (SELECT count(*) FROM idempotency_keys WHERE state = 'in_flight')")


def books(env, payments_url, catalog_url, products=None, python=sys.executable):
    """Every 201 was one succeeded payment, charged once; ledger and stock agree. `products`:
    the ids prepare_data made (default: every product, when the catalog holds only those);
    `python` runs the reconciliation (another commit's, when comparing)."""
    from sqlalchemy import create_engine, text

    def scalar(url, sql):
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(sql)).scalar_one())
        finally:
            engine.dispose()

    # Requests wrk left in flight finish first. A request holds its key `in_flight` from before
    # its payment exists until its outcome is stored: waiting on pending payments alone let
    # one that was still reserving be charged between the counts below.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scalar(payments_url, _IN_FLIGHT):
        time.sleep(0.5)
    paid = scalar(payments_url, "SELECT count(*) FROM payments WHERE status = 'succeeded'")
    charged = scalar(payments_url, "SELECT count(*) FROM simulator_charges "
                                   "WHERE status = 'succeeded'")
    reconcile = subprocess.run([python, "-m", "payments.reconcile"], env=env,
                               capture_output=True, text=True, timeout=120, check=False)
    only = ""
    if products:  # uuid.UUID() keeps the literals safe
        only = " WHERE id IN ({})".format(", ".join(f"'{uuid.UUID(p)}'" for p in products))
    deadline, sold = time.monotonic() + 60, -1
    while time.monotonic() < deadline:  # the catalog commits reservations as events arrive
        sold = scalar(catalog_url, f"SELECT COALESCE(SUM({STOCK} - on_hand), 0) FROM products"
                      f"{only}")
        if sold == paid:
            break
        time.sleep(0.5)
    return {"succeeded_payments": paid, "charges": charged, "units_sold": sold,
            "ledger_reconciles": reconcile.returncode == 0,
            "consistent": paid == charged == sold and reconcile.returncode == 0}


def summarise(samples, requests_ok):
    figures = system_figures(samples)
    # This script's samples keep wrk's CPU apart from the processes': it is other load too.
    wrk_cores = sum(s["wrk_cpu_s"] for s in samples) / sum(s["seconds"] for s in samples)
    return {**{key: figures[key] for key in ("rps", "rps_rounds", "p50_ms", "p90_ms", "p99_ms",
                                             "errors")},
            "cpu_ms_per_checkout": figures["cpu_ms_per_request"],
            "other_load_cores": figures["other_load_cores"] - wrk_cores,
            "books": requests_ok}


def markdown(summary, meta):
    cpu = summary["cpu_ms_per_checkout"]
    met = ("met" if summary["rps"] >= GOAL_RPS and summary["p99_ms"] <= GOAL_P99_MS
           else "NOT met")
    b = summary["books"]
    return "\n".join([
        "`POST /payments` (one real checkout per request, fresh Idempotency-Key, `tok_visa`), "
        f"{meta['connections']} connections.", "",
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}, {meta['rounds']} rounds x {meta['duration_s']:g} s after "
        f"{meta['warmup_s']:g} s warm-up; wrk -t2 -c{meta['connections']}; {meta['products']} "
        f"products, {meta['customers']} customers; code at {meta['source']}",
        f"- Machine: {meta['machine']['nproc']} x {meta['machine']['cpu']}, "
        f"{meta['machine']['memory']}; other work outside the benchmark's processes: "
        f"{summary['other_load_cores']:.2f} cores on average", "",
        "| checkouts/s (median) | p50 ms | p90 ms | p99 ms | errors | CPU ms/checkout: gateway "
        "| payments | catalog | auth | rabbitmq | postgres |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {summary['rps']:.0f} | {summary['p50_ms']:.1f} | {summary['p90_ms']:.1f} | "
        f"{summary['p99_ms']:.1f} | {summary['errors']} | {cpu['gateway']:.2f} | "
        f"{cpu['payments']:.2f} | {cpu['catalog']:.2f} | {cpu['auth']:.2f} | "
        f"{cpu.get('rabbitmq', float('nan')):.2f} | {cpu['postgres']:.2f} |", "",
        f"Goal >= {GOAL_RPS:g} checkouts/s with p99 <= {GOAL_P99_MS:g} ms: **{met}**. "
        f"Per-round checkouts/s: {', '.join(map(str, summary['rps_rounds']))}.", "",
        f"Books after the run: {b['succeeded_payments']} succeeded payments, {b['charges']} "
        f"charges, {b['units_sold']} units taken from stock by the catalog, ledger reconciles: "
        f"{'yes' if b['ledger_reconciles'] else 'NO'} -> "
        f"{'consistent' if b['consistent'] else 'INCONSISTENT'}."])


def collect(binary, args, run_name):
    with suite.vhost() as amqp_uri, suite.database("auth") as auth_url, \
            suite.database("catalog") as catalog_url, \
            suite.database("payments") as payments_url, \
            suite.Processes(run_name) as procs, tempfile.TemporaryDirectory() as tmp:
        urls = {"auth": auth_url, "catalog": catalog_url, "payments": payments_url}
        env = {**suite.suite_env(amqp_uri, urls), "ADMIN_EMAIL": ADMIN[0],
               "ADMIN_PASSWORD": ADMIN[1]}
        url = start(procs, env)
        products, tokens = prepare_data(url, args)
        script = lua_script(tokens, products, tmp)
        databases = [make_url(u).database for u in urls.values()]
        samples = rounds(binary, url, script, args, procs, databases)
        checked = books(env, payments_url, catalog_url)
    return samples, checked


def main(argv=None):
    args = parse_args(argv)
    run = common.Run("bench/checkout.py", "checkout", argv)
    measured, failed = run.attempt(collect, args)
    if failed is not None:
        return failed
    samples, checked = measured
    summary = summarise(samples, checked)
    meta = run.meta(connections=args.connections, rounds=args.rounds,
                    duration_s=args.duration, warmup_s=args.warmup, products=args.products,
                    customers=args.customers)
    run.finish(args, "payments-checkout", markdown(summary, meta), meta, summary=summary,
               samples=samples)
    return 1 if summary["errors"] or not checked["consistent"] else 0


if __name__ == "__main__":
    sys.exit(main())
