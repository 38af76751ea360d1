"""`python -m catalog.seed N`: add N realistic products (for demos and benchmarks).

    python -m catalog.seed 10000               # CATALOG_DATABASE_URL, events in the outbox
    python -m catalog.seed 10000 --no-events   # benchmarks: no product_created per row
"""

from __future__ import annotations

import argparse
import random
import uuid
from typing import Any

from sqlalchemy import Engine

from catalog.config import settings
from catalog.postgres import add_products
from shared.db import make_engine

CATEGORIES: dict[str, tuple[list[str], int, int]] = {  # nouns, price range in cents
    "furniture": (["chair", "desk", "bookshelf", "stool", "side table", "sofa"], 4900, 89900),
    "kitchen": (["chef's knife", "skillet", "cutting board", "kettle", "mixing bowl"], 900, 24900),
    "outdoor": (["tent", "backpack", "camping stove", "sleeping bag", "headlamp"], 1900, 49900),
    "electronics": (["headphones", "speaker", "keyboard", "monitor stand", "charger"], 1500,
                    39900),
    "apparel": (["rain jacket", "wool sweater", "running shoes", "scarf", "beanie"], 1200, 29900),
    "garden": (["watering can", "pruning shears", "planter", "hose reel", "trowel"], 700, 15900),
}
ADJECTIVES = ["compact", "classic", "rugged", "lightweight", "ergonomic", "handmade", "modern",
              "vintage", "foldable", "premium", "everyday", "heavy-duty"]
MATERIALS = ["oak", "walnut", "steel", "aluminium", "bamboo", "cotton", "merino", "ceramic",
             "cast iron", "recycled plastic", "leather", "linen"]
COLORS = ["black", "slate", "forest green", "navy", "sand", "terracotta", "white", "charcoal"]
USES = ["small apartments", "weekend trips", "daily commutes", "busy kitchens",
        "long evenings of reading", "the home office", "rainy days", "first-time gardeners"]


def product_row(rng: random.Random, category: str | None = None) -> dict[str, Any]:
    category = category or rng.choice(sorted(CATEGORIES))
    nouns, low, high = CATEGORIES.get(category, CATEGORIES["furniture"])
    adjective, material, noun = rng.choice(ADJECTIVES), rng.choice(MATERIALS), rng.choice(nouns)
    color = rng.choice(COLORS)
    description = (f"A {adjective} {noun} in {color} {material}, made for {rng.choice(USES)}. "
                   f"Built to last, easy to care for, and backed by a two-year warranty.")
    price = rng.randrange(low, high, 100) + 99
    return {"id": uuid.uuid4(), "sku": f"{category[:3].upper()}-{uuid.uuid4().hex[:10].upper()}",
            "name": f"{adjective.capitalize()} {material} {noun}", "description": description,
            "category": category, "price": price, "currency": "USD",
            "on_hand": rng.randrange(0, 500)}


def seed(engine: Engine, count: int, events: bool = True, category: str | None = None,
         batch: int = 1000, rng: random.Random | None = None) -> list[uuid.UUID]:
    """Insert `count` products in batches (one transaction each); returns their ids."""
    rng = rng or random.Random()
    ids: list[uuid.UUID] = []
    for start in range(0, count, batch):
        rows = [product_row(rng, category) for _ in range(min(batch, count - start))]
        add_products(engine, rows, events)
        ids += [row["id"] for row in rows]
    return ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Add N realistic products to the catalog.")
    parser.add_argument("count", type=int)
    parser.add_argument("--no-events", action="store_true",
                        help="don't record product_created events (benchmark data)")
    parser.add_argument("--category", help="put every product in this category")
    parser.add_argument("--random-seed", type=int, help="repeatable names and prices")
    args = parser.parse_args(argv)
    engine = make_engine(settings().database_url, pool_size=1)
    try:
        ids = seed(engine, args.count, events=not args.no_events, category=args.category,
                   rng=random.Random(args.random_seed))
    finally:
        engine.dispose()
    print(f"seeded {len(ids)} products")


if __name__ == "__main__":
    main()
