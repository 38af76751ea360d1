"""One wrk run and what it printed: requests/s, latency percentiles, errors, wrk's own CPU."""

from __future__ import annotations

import re
import resource
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
_REQUESTS = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    wrk_cpu_s: float

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(wrk: str, url: str, connections: int, seconds: float, threads: int = 2,
            timeout_s: float = 5.0, script: str | None = None) -> WrkResult:
    """One wrk run; `script` is a Lua file that builds the requests (else GET `url`)."""
    argv = [wrk, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s",
            "--latency", f"--timeout={timeout_s:g}s", *(["-s", script] if script else []), url]
    before = _children_cpu()  # wrk is the only child reaped in between
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    wrk_cpu = _children_cpu() - before
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse(done.stdout, wrk_cpu)


def parse(out: str, wrk_cpu_s: float = 0.0) -> WrkResult:
    percentiles = {int(p): float(v) * _UNITS[u] for p, v, u in _PERCENTILE.findall(out)}
    requests = _REQUESTS.search(out)
    rate = _RATE.search(out)
    if requests is None or rate is None or not {50, 90, 99} <= percentiles.keys():
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    socket_errors = _SOCKET.search(out)
    non_2xx = _NON_2XX.search(out)
    return WrkResult(
        requests=int(requests.group(1)),
        seconds=float(requests.group(2)) * _UNITS[requests.group(3)] / 1e3,
        rps=float(rate.group(1)),
        p50_ms=percentiles[50], p90_ms=percentiles[90], p99_ms=percentiles[99],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in socket_errors.groups()) if socket_errors else 0,
        wrk_cpu_s=wrk_cpu_s,
    )
