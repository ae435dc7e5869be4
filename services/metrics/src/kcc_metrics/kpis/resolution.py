"""First-contact resolution across channels ("in één keer antwoord en in één keer goed").

A contact counts in the period of its first resolution. It was resolved at first contact when
that resolution was `answered_in_kcc` AND the same citizen (the keyed pseudonym `citizen_key`)
made no other contact, on any channel, about the same UPL product after it was received and
within `fcr_window_days` after it was resolved. The product of a contact is the `upl_uri` of
its first routing decision (else of its resolution). Until the window has closed without a
repeat, the contact is pending and left out. A contact without citizen key or product cannot
be linked to a repeat: it counts as resolved at first contact, and `unlinkable` says how many.

The citizen key is only compared for equality, so re-keying it to a surrogate (an erasure)
leaves every figure unchanged."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from kcc_metrics.kpis.written import _aware
from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings
from kcc_metrics.kpis.now import Now, as_now


def first_resolutions(resolved: Iterable[dict[str, Any]]) -> dict[str, tuple[datetime, str]]:
    """contact id -> (time, outcome) of its earliest resolution; ties broken by outcome."""
    first: dict[str, tuple[datetime, str]] = {}
    for fact in resolved:
        candidate = (_aware(fact["resolved_at"]), fact["outcome"])
        if fact["contact_id"] not in first or candidate < first[fact["contact_id"]]:
            first[fact["contact_id"]] = candidate
    return first


def products_of(routed: Iterable[dict[str, Any]], resolved: Iterable[dict[str, Any]]) -> dict[str, str]:
    """contact id -> UPL product: from the first routing decision (by routed_at), else a resolution."""
    chosen: dict[str, tuple[datetime, str]] = {}
    for fact in routed:
        if fact.get("upl_uri") and fact.get("routed_at"):
            candidate = (_aware(fact["routed_at"]), fact["upl_uri"])
            if fact["contact_id"] not in chosen or candidate < chosen[fact["contact_id"]]:
                chosen[fact["contact_id"]] = candidate
    products = {contact_id: uri for contact_id, (_, uri) in chosen.items()}
    for fact in sorted(resolved, key=lambda f: (_aware(f["resolved_at"]), f.get("upl_uri") or "")):
        if fact.get("upl_uri"):
            products.setdefault(fact["contact_id"], fact["upl_uri"])
    return products


def fcr_kpi(
    resolved: Iterable[dict[str, Any]], *, received: Mapping[str, dict[str, Any]], products: Mapping[str, str],
    norms: NormSettings, now: datetime | Now, channel: str = "all",
) -> Kpi:
    """`resolved`: the period's resolution facts; `received`: receipt facts by contact id, of
    these contacts and of every later contact by the same citizens (the candidate repeats)."""
    now = as_now(now)
    by_citizen: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in received.values():
        if fact.get("citizen_key"):
            by_citizen[fact["citizen_key"]].append(fact)
    window = timedelta(days=norms.fcr_window_days)
    counts = {"resolved": 0, "not_in_kcc": 0, "repeated": 0, "first_time": 0, "pending": 0, "unlinkable": 0}
    for contact_id, (resolved_at, outcome) in first_resolutions(resolved).items():
        counts["resolved"] += 1
        if outcome != "answered_in_kcc":
            counts["not_in_kcc"] += 1
            continue
        original, product = received.get(contact_id), products.get(contact_id)
        if original is None or not original.get("citizen_key") or product is None:
            counts["unlinkable"] += 1
            counts["first_time"] += 1
            continue
        since, until = _aware(original["received_at"]), resolved_at + window
        repeated = any(
            other["contact_id"] != contact_id and products.get(other["contact_id"]) == product
            and since < _aware(other["received_at"]) <= until
            for other in by_citizen[original["citizen_key"]]
        )
        if repeated:
            counts["repeated"] += 1
        elif not now.past(until):
            counts["pending"] += 1
        else:
            counts["first_time"] += 1
    return judged(
        name="first_contact_resolution", channel=channel, unit="share",
        value=ratio(counts["first_time"], counts["first_time"] + counts["repeated"] + counts["not_in_kcc"]),
        norm=Norm(target=norms.fcr_share, comparison=">=", source=NORM_SOURCES["fcr"]),
        counts=counts,
        definition=f"Contacts first resolved answered_in_kcc with no repeat contact by the same citizen_key on the same UPL "
        f"product (any channel) after receipt and within {norms.fcr_window_days} days of the resolution / contacts first "
        "resolved in the period (pending windows left out; anonymous or unclassified contacts cannot repeat: `unlinkable`).",
    )
