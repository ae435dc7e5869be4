"""The subject taxonomy: municipal products of the UPL (Uniforme Productnamenlijst).

The CSV is the national list the repository carries (see data/upl/SOURCE.md); rows marked
`Gemeente=X` are products a municipality provides. A product is identified by its URI.
"""

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

CATCH_ALL_NAME = "UPL-naam nog niet beschikbaar"


@dataclass(frozen=True)
class Product:
    name: str
    uri: str


class Taxonomy:
    """The municipal UPL products, by URI and by (lower-cased) name."""

    def __init__(self, products: list[Product]) -> None:
        self.products = products
        self._by_uri = {p.uri: p for p in products}
        self._by_name = {p.name.lower(): p for p in products}

    def __len__(self) -> int:
        return len(self.products)

    def by_uri(self, uri: str) -> Product | None:
        return self._by_uri.get(uri)

    def by_name(self, name: str) -> Product | None:
        return self._by_name.get(name.lower())

    def resolve(self, name_or_uri: str) -> Product:
        """The product a config or data file names, by URI or by name; KeyError if none."""
        product = self.by_uri(name_or_uri) or self.by_name(name_or_uri)
        if product is None:
            raise KeyError(f"not a municipal UPL product: {name_or_uri!r}")
        return product

    @property
    def catch_all(self) -> Product:
        """The UPL's own placeholder, used when no product is recognised."""
        return self.resolve(CATCH_ALL_NAME)


def parse_upl(lines) -> Taxonomy:
    """Municipal products from UPL CSV lines, one per URI (the list repeats some rows)."""
    seen: dict[str, Product] = {}
    for row in csv.DictReader(lines):
        if row.get("Gemeente", "").strip().upper() == "X" and row.get("URI"):
            seen.setdefault(row["URI"].strip(), Product(name=row["UniformeProductnaam"].strip(), uri=row["URI"].strip()))
    return Taxonomy(sorted(seen.values(), key=lambda p: p.name))


@cache
def load_taxonomy() -> Taxonomy:
    """The UPL snapshot shipped in the package."""
    path = resources.files("kcc_routing") / "data" / "upl" / "UPL-actueel.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return parse_upl(handle)


@cache
def load_keywords() -> dict[str, list[str]]:
    """Words citizens use for products (data/keywords.json), by UPL name."""
    path = resources.files("kcc_routing") / "data" / "keywords.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: phrases for name, phrases in data.items() if not name.startswith("_")}


@dataclass(frozen=True)
class ProductKnowledge:
    """What the classifier knows of one product beyond its UPL name (data/products.json)."""

    uri: str
    name: str
    department: str
    description: str
    synonyms: tuple[str, ...]
    phrasings: tuple[str, ...]


@cache
def load_products() -> dict[str, ProductKnowledge]:
    """Description, synonyms, citizen phrasings and owning department per municipal product, by URI."""
    path = resources.files("kcc_routing") / "data" / "products.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        p["uri"]: ProductKnowledge(
            uri=p["uri"], name=p["name"], department=p["department"], description=p["description"],
            synonyms=tuple(p["synonyms"]), phrasings=tuple(p["phrasings"]),
        )
        for p in data["products"]
    }


@cache
def load_english() -> dict[str, tuple[str, ...]]:
    """Per product URI: its English name and the English phrasings of expats
    (data/products_en.json, see its `_sources`)."""
    path = resources.files("kcc_routing") / "data" / "products_en.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {p["uri"]: (p["name_en"], *p["phrasings_en"]) for p in data["products"]}


def load_catalogue_messages() -> list[tuple[str, str]]:
    """(uri, text) of the messages written per product for the products few labelled messages are
    about (data/catalogue_messages.jsonl; see data/CATALOGUE_MESSAGES.md). Product knowledge, like
    the phrasings: not a sample of what citizens ask, so never learnt from as one."""
    path = resources.files("kcc_routing") / "data" / "catalogue_messages.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["upl_uri"], row["text"]) for row in rows]
