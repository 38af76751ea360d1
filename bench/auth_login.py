"""Auth benchmark (issue 4): sign-ins per second at the production Argon2id cost, and what a
login storm does to a cheap RPC read served by the same auth process.

One auth service (`nameko run`, production settings: Argon2id m=19 MiB t=2 p=1, hashing in
eventlet's thread pool, AUTH_HASH_CONCURRENCY default) and one gateway, in a throwaway vhost and
database. Rounds alternate (ABBA) between
- idle: only the read probe runs;
- storm: wrk POSTs /auth/login (correct passwords, rotating over --users accounts) with
  --connections connections while the read probe runs.
The read probe is open-loop at --probe-rate requests/s (so it measures latency, not how fast it
can push): `GET /auth/jwks.json`, one `auth.get_jwks` RPC per request, through the gateway.

    .venv/bin/python bench/auth_login.py           # full run; rewrites docs/benchmarks.md#auth
    .venv/bin/python bench/auth_login.py --quick   # smoke run, no doc update
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import suite

PASSWORD = "bench password 0123456789"
GOAL = 1.5


def parse_args(argv):
    parser = common.parser(__doc__, connections=3, connections_help="concurrent sign-ins",
                           warmup=False)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--probe-rate", type=float, default=40.0, help="reads per second")
    return common.defaults(parser.parse_args(argv), rounds=(2, 6), duration=(5.0, 20.0))


def lua_script(emails, directory):
    path = Path(directory) / "logins.lua"
    bodies = ",".join(json.dumps(json.dumps({"email": e, "password": PASSWORD}))
                      for e in emails)
    path.write_text(f"local bodies = {{{bodies}}}\nlocal n = math.random(#bodies)\n"
                    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    "request = function()\n  n = n + 1\n"
                    "  return wrk.format(nil, '/auth/login', nil, bodies[(n % #bodies) + 1])\n"
                    "end\n")
    return str(path)


class Probe:
    """Open-loop reads at a fixed rate on a thread; latencies of the ones that started."""

    def __init__(self, url, rate):
        self.url, self.interval = url, 1.0 / rate
        self.latencies, self.errors = [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        with httpx.Client(timeout=10) as client:
            client.get(self.url)  # connect outside the measurement
            next_at = time.perf_counter()
            while not self._stop.is_set():
                next_at += self.interval
                started = time.perf_counter()
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.latencies.append(1000 * (time.perf_counter() - started))
                else:
                    self.errors += 1
                self._stop.wait(max(0.0, next_at - time.perf_counter()))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _own_cpu():
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_round(kind, binary, url, script, args, pids):
    """pids: {"auth": pid, "gateway": pid}"""
    cpu_before = common.cpu_clocks(pids)
    own_before, busy_before, wall_before = _own_cpu(), suite.machine_busy_seconds(), \
        time.monotonic()
    wrk_cpu = 0.0
    with Probe(f"{url}/auth/jwks.json", args.probe_rate) as probe:
        if kind == "storm":
            storm = common.wrk(binary, url, script, args.connections, args.duration,
                               threads=1, timeout_s=10.0)
            wrk_cpu = storm.wrk_cpu_s
        else:
            time.sleep(args.duration)
            storm = None
    if len(probe.latencies) < 10:
        raise suite.BenchError("the read probe got almost no answers")
    cpu = common.cpu_spent(pids, cpu_before)
    ours = sum(cpu.values()) + wrk_cpu + _own_cpu() - own_before
    other = (suite.machine_busy_seconds() - busy_before - ours) / (time.monotonic()
                                                                   - wall_before)
    sample = {"kind": kind, "read_p50_ms": percentile(probe.latencies, 50),
              "read_p99_ms": percentile(probe.latencies, 99), "reads": len(probe.latencies),
              "read_errors": probe.errors,
              "auth_cpu_s": cpu["auth"], "other_load_cores": max(0.0, other)}
    if storm is not None:
        sample.update(logins=storm.requests, logins_per_s=storm.rps, login_p50_ms=storm.p50_ms,
                      login_p99_ms=storm.p99_ms, login_errors=storm.errors)
    line = (f"bench: {kind:<5} read p50 {sample['read_p50_ms']:6.2f} ms p99 "
            f"{sample['read_p99_ms']:6.2f} ms; other load {other:.2f} cores")
    if storm is not None:
        line += f"; {storm.rps:6.1f} logins/s p99 {storm.p99_ms:.0f} ms errors {storm.errors}"
    print(line, flush=True)
    return sample


def register(url, count):
    emails = [f"bench-{i}-{time.time_ns()}@example.com" for i in range(count)]
    with httpx.Client(base_url=url, timeout=30) as client:
        for email in emails:
            response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
            if response.status_code != 201:
                raise suite.BenchError(f"register failed: {response.status_code}")
    return emails


def hash_cpu_ms(meta, repeats=20):
    """CPU (not wall) time of one Argon2id verify at the service's parameters, in this process:
    what bounds sign-ins per second per hashing thread, whatever else the machine runs."""
    from argon2 import PasswordHasher

    a = meta["argon2"]
    hasher = PasswordHasher(time_cost=a["time_cost"], memory_cost=a["memory_kib"],
                            parallelism=a["parallelism"])
    digest = hasher.hash(PASSWORD)
    started = time.thread_time()
    for _ in range(repeats):
        hasher.verify(digest, PASSWORD)
    return 1000 * (time.thread_time() - started) / repeats


def summarise(samples):
    idle = [s for s in samples if s["kind"] == "idle"]
    storm = [s for s in samples if s["kind"] == "storm"]
    med = statistics.median
    logins = sum(s["logins"] for s in storm)
    # The auth process also serves the probe's reads during a storm: take their idle cost off.
    per_read = sum(s["auth_cpu_s"] for s in idle) / max(sum(s["reads"] for s in idle), 1)
    login_cpu = sum(s["auth_cpu_s"] - per_read * s["reads"] for s in storm)
    summary = {
        "idle_read_p50_ms": med(s["read_p50_ms"] for s in idle),
        "idle_read_p99_ms": med(s["read_p99_ms"] for s in idle),
        "storm_read_p50_ms": med(s["read_p50_ms"] for s in storm),
        "storm_read_p99_ms": med(s["read_p99_ms"] for s in storm),
        "logins_per_s": med(s["logins_per_s"] for s in storm),
        "logins_per_s_rounds": [s["logins_per_s"] for s in storm],
        "login_p50_ms": med(s["login_p50_ms"] for s in storm),
        "login_p99_ms": med(s["login_p99_ms"] for s in storm),
        "errors": sum(s["login_errors"] for s in storm) + sum(s["read_errors"] for s in samples),
        "auth_cpu_ms_per_login": 1000 * login_cpu / max(logins, 1),
        "auth_cpu_ms_per_read": 1000 * per_read,
        "other_load_cores": statistics.mean(s["other_load_cores"] for s in samples),
    }
    summary["ratio"] = summary["storm_read_p99_ms"] / summary["idle_read_p99_ms"]
    return summary


def markdown(s, meta):
    met = "met" if s["ratio"] <= GOAL else "NOT met"
    m = meta["machine"]
    return "\n".join([
        f"- Command: `{meta['command']}`",
        f"- Run: {meta['started_utc']}, {meta['minutes']} min; {meta['rounds']} rounds x "
        f"{meta['duration_s']:g} s per phase (ABBA); wrk -t1 -c{meta['connections']} on "
        f"POST /auth/login over {meta['users']} accounts; read probe {meta['probe_rate']:g}/s "
        f"open-loop on GET /auth/jwks.json; code at {meta['source']}",
        f"- Machine: {m['nproc']} x {m['cpu']}, {m['memory']}, Linux {m['kernel']}",
        f"- Argon2id m={meta['argon2']['memory_kib']} KiB, t={meta['argon2']['time_cost']}, "
        f"p={meta['argon2']['parallelism']}; hashing threads (AUTH_HASH_CONCURRENCY) "
        f"{meta['argon2']['concurrency']} at niceness {meta['argon2']['niceness']} "
        f"(AUTH_HASH_NICENESS), queue limit {meta['argon2']['queue_limit']}",
        f"- Other work on the machine during the rounds: {s['other_load_cores']:.2f} cores busy "
        "on average outside the benchmark's processes", "",
        "| | read p50 ms | read p99 ms | logins/s | login p50 ms | login p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
        f"| idle | {s['idle_read_p50_ms']:.2f} | {s['idle_read_p99_ms']:.2f} | | | |",
        f"| login storm | {s['storm_read_p50_ms']:.2f} | {s['storm_read_p99_ms']:.2f} | "
        f"{s['logins_per_s']:.1f} | {s['login_p50_ms']:.0f} | {s['login_p99_ms']:.0f} |", "",
        f"**Read p99 under the storm / idle = {s['ratio']:.2f}x** (goal <= {GOAL:g}x: {met}). "
        f"Errors: {s['errors']}.", "",
        f"CPU cost, which other load does not distort: one Argon2id verify "
        f"{meta['hash_cpu_ms']:.1f} ms; the auth process spends "
        f"{s['auth_cpu_ms_per_login']:.1f} ms per sign-in (hash included) and "
        f"{s['auth_cpu_ms_per_read']:.2f} ms per JWKS read. So one hashing thread allows at most "
        f"~{1000 / meta['hash_cpu_ms']:.0f} sign-ins/s on a free core; the measured rate is "
        "what the benchmark's share of this (shared) machine allowed. "
        "Logins/s per round: " + ", ".join(f"{r:.1f}" for r in s["logins_per_s_rounds"]) + "."])


def argon2_meta():
    sys.path.insert(0, str(suite.ROOT / "services" / "auth"))
    from auth.config import AuthSettings

    config = AuthSettings()
    return {"memory_kib": config.argon2_memory_kib, "time_cost": config.argon2_time_cost,
            "parallelism": config.argon2_parallelism, "concurrency": config.hash_concurrency,
            "queue_limit": config.hash_queue_limit, "niceness": config.hash_niceness}


def collect(binary, args, run_name):
    with suite.vhost() as amqp_uri, suite.database("auth") as auth_url, \
            suite.Processes(run_name) as procs, tempfile.TemporaryDirectory() as tmp:
        env = suite.suite_env(amqp_uri, {"auth": auth_url})
        port = suite.free_port()
        auth = procs.start("auth", suite.nameko_service("auth"), env)
        gateway = procs.start("gateway", [sys.executable, "-m", "gateway"],
                              {**env, "GATEWAY_PORT": str(port)})
        pids = {"auth": auth.pid, "gateway": gateway.pid}
        url = f"http://127.0.0.1:{port}"
        suite.wait_http_ok(f"{url}/auth/jwks.json", procs)
        script = lua_script(register(url, args.users), tmp)
        one_round("storm", binary, url, script, args, pids)  # warm-up
        samples = []
        for index in range(args.rounds):
            for kind in common.abba(index, ("idle", "storm")):
                procs.check_alive()
                samples.append(one_round(kind, binary, url, script, args, pids))
    return samples


def main(argv=None):
    args = parse_args(argv)
    run = common.Run("bench/auth_login.py", "auth", argv)
    samples, failed = run.attempt(collect, args)
    if failed is not None:
        return failed
    summary = summarise(samples)
    meta = run.meta(rounds=args.rounds, duration_s=args.duration, users=args.users,
                    connections=args.connections, probe_rate=args.probe_rate,
                    argon2=argon2_meta())
    meta["hash_cpu_ms"] = hash_cpu_ms(meta)
    run.finish(args, "auth", markdown(summary, meta), meta, summary=summary, samples=samples)
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
