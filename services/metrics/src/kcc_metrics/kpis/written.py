"""Written-channel norms (e-mail, letter, social) and the KCC resolution share.

A contact belongs to the period of its receipt. Its answer is the earliest answer that went out
to the citizen (`contact.answered`: the relay or webhook took it, the letter was ready for the
post room) and did not come back undelivered; only a contact with no such answer falls back
to the agent's click, the earliest `contact.resolved` for it. A contact without either whose
deadline has passed counts as missed; one whose deadline is still ahead is pending and left
out of the share. The counts say which decided (`by_reply`, `by_resolve`), how many answers
went out (`replies`) and how many did not arrive (`undelivered`)."""

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kcc_metrics.models import Kpi, Norm, judged, ratio
from kcc_metrics.norms import NORM_SOURCES, NormSettings
from kcc_metrics.workdays import end_of_working_days
from kcc_metrics.kpis.now import Now, as_now

WRITTEN_CHANNELS = ("email", "letter", "social")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def deadline(fact: dict[str, Any], *, norms: NormSettings, tz: ZoneInfo) -> datetime:
    """When the answer to a received written contact is due under its channel's norm."""
    received_at = _aware(fact["received_at"])
    if fact["channel"] == "email":
        return end_of_working_days(received_at, norms.email_working_days, tz=tz)
    if fact["channel"] == "letter":
        if fact.get("answer_due_at"):
            return _aware(fact["answer_due_at"])
        day = received_at.astimezone(tz).date() + timedelta(weeks=norms.letter_answer_weeks)
        return datetime.combine(day, time.max, tz)
    return received_at + timedelta(hours=norms.social_hours)


def _first_answers(resolved: Iterable[dict[str, Any]]) -> dict[str, datetime]:
    answers: dict[str, datetime] = {}
    for fact in resolved:
        at = _aware(fact["resolved_at"])
        if fact["contact_id"] not in answers or at < answers[fact["contact_id"]]:
            answers[fact["contact_id"]] = at
    return answers


def _first_replies(answered: Iterable[dict[str, Any]], undelivered: Iterable[dict[str, Any]]) -> dict[str, datetime]:
    """Per contact, when its first answer that arrived went out (an undelivered one does not count)."""
    bounced = {fact["reply_id"] for fact in undelivered}
    return _first_answers(
        {"contact_id": f["contact_id"], "resolved_at": f["answered_at"]} for f in answered if f["reply_id"] not in bounced
    )


ANSWER_RULE = (
    " Answered = the first answer sent to the citizen (contact.answered: relay or webhook accepted it, "
    "letter ready for the post room) that did not come back undelivered; without one, the agent's resolve "
    "click (contact.resolved) as the fallback."
)
_TEXT = {
    "email": "E-mails answered by the end of the {n}th working day after the local day received "
    "(weekends and Dutch public holidays do not count, Europe/Amsterdam) / e-mails due." + ANSWER_RULE,
    "letter": "Letters answered by their answer_due_at (else {n} weeks after receipt, end of day) / letters due." + ANSWER_RULE,
    "social": "Social messages answered within {n:g} h of receipt / messages due." + ANSWER_RULE,
}


def written_kpis(
    received: Iterable[dict[str, Any]], resolved: Iterable[dict[str, Any]], *, norms: NormSettings, tz: ZoneInfo,
    now: datetime | Now, answered: Iterable[dict[str, Any]] = (), undelivered: Iterable[dict[str, Any]] = (),
) -> list[Kpi]:
    """Per written channel: the share of contacts answered within the channel's norm (see ANSWER_RULE)."""
    now = as_now(now)
    answered, undelivered = list(answered), list(undelivered)
    replies, clicks = _first_replies(answered, undelivered), _first_answers(resolved)
    sent = {}
    for fact in answered:
        sent[fact["contact_id"]] = sent.get(fact["contact_id"], 0) + 1
    bounced = {}
    for fact in undelivered:
        bounced[fact["contact_id"]] = bounced.get(fact["contact_id"], 0) + 1
    tally = {
        channel: {"met": 0, "missed": 0, "pending": 0, "by_reply": 0, "by_resolve": 0, "replies": 0, "undelivered": 0}
        for channel in WRITTEN_CHANNELS
    }
    for fact in received:
        if fact["channel"] not in tally:
            continue
        counts, contact_id = tally[fact["channel"]], fact["contact_id"]
        counts["replies"] += sent.get(contact_id, 0)
        counts["undelivered"] += bounced.get(contact_id, 0)
        due = deadline(fact, norms=norms, tz=tz)
        answered_at = replies.get(contact_id)
        if answered_at is not None:
            counts["by_reply"] += 1
        elif (answered_at := clicks.get(contact_id)) is not None:
            counts["by_resolve"] += 1
        if answered_at is not None:
            status = "met" if answered_at <= due else "missed"
        else:
            status = "missed" if now.past(due) else "pending"
        counts[status] += 1
    targets = {"email": norms.email_share, "letter": norms.letter_share, "social": norms.social_share}
    sizes = {"email": norms.email_working_days, "letter": norms.letter_answer_weeks, "social": norms.social_hours}
    return [
        judged(
            name="answered_in_time", channel=channel, unit="share",
            value=ratio(counts["met"], counts["met"] + counts["missed"]),
            norm=Norm(target=targets[channel], comparison=">=", source=NORM_SOURCES[channel]),
            counts=counts, definition=_TEXT[channel].format(n=sizes[channel]),
        )
        for channel, counts in tally.items()
    ]


def resolution_kpi(resolved: Iterable[dict[str, Any]], *, norms: NormSettings, channel: str = "all") -> Kpi:
    """Share of contacts resolved in the period that the KCC answered itself."""
    outcomes = _first_outcomes(resolved)
    in_kcc = sum(1 for outcome in outcomes.values() if outcome == "answered_in_kcc")
    return judged(
        name="resolved_in_kcc", channel=channel, unit="share", value=ratio(in_kcc, len(outcomes)),
        norm=Norm(target=norms.kcc_resolution_share, comparison=">=", source=NORM_SOURCES["kcc"]),
        counts={"resolved": len(outcomes), "answered_in_kcc": in_kcc},
        definition="Contacts whose first resolution (local day in the period) was answered_in_kcc / contacts resolved.",
    )


def _first_outcomes(resolved: Iterable[dict[str, Any]]) -> dict[str, str]:
    first: dict[str, tuple[datetime, str]] = {}
    for fact in resolved:
        at = _aware(fact["resolved_at"])
        candidate = (at, fact["outcome"])  # ties broken by outcome, so arrival order never matters
        if fact["contact_id"] not in first or candidate < first[fact["contact_id"]]:
            first[fact["contact_id"]] = candidate
    return {contact_id: outcome for contact_id, (_, outcome) in first.items()}
