"""Product reads that mix cache hits and misses (issue 16): random ids over --mix-products
seeded products (2 000 by default) at c=32, the gateway's cache on (TTL 1 s, the default) vs
the same reads with the cache off. With a 1 s TTL and a few thousand reads a second, about as
many reads miss as hit. Goal: the cache must not hurt the tail, cache-on p99 <= cache-off p99.

A scenario of `make bench` (bench/scenarios.py `product_mix`):

    .venv/bin/python bench/run.py --only product_mix --rounds 4 --duration 10 --warmup 3
"""

from __future__ import annotations

import json
from pathlib import Path

MIX_PRODUCTS = 2_000


def lua_script(ids: list[str], directory: str) -> str:
    """A wrk script reading `ids` in random order; each wrk thread seeds its own generator."""
    path = Path(directory) / f"random-ids-{len(ids)}.lua"
    listing = ",".join(json.dumps(i) for i in ids)
    path.write_text(
        f"local ids = {{{listing}}}\n"
        "local counter = 0\n"
        "setup = function(thread)\n  counter = counter + 1\n  thread:set('seed', counter)\nend\n"
        "init = function(args)\n  math.randomseed(os.time() * 1000 + seed)\nend\n"
        "request = function()\n"
        "  return wrk.format('GET', '/products/' .. ids[math.random(#ids)])\nend\n")
    return str(path)
