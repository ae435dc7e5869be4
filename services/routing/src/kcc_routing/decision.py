"""The routing decision, a pure function of the contact, the organisation and the moment.

- A product guessed with too little confidence → the KCC's triage queue: an agent reads the
  contact and routes it, rather than a department getting what is not theirs.
- A product the KCC answers (its department has joined, or it is the KCC's own) → answer in
  the KCC, first time right.
- Otherwise the contact is the department's: written channels are forwarded to its inbox
  with the due date of the channel norm; live channels (telephone, counter) are transferred
  warm only when the department is reachable now (open, with someone present) and the
  contact was transferred fewer than `max_transfers` times; else the citizen gets a call-back
  (when we have a phone number to call) or the contact is forwarded.
"""

from dataclasses import dataclass
from datetime import datetime

from kcc_shared.contracts import Channel, ContactRoutedData

from kcc_routing.organisation import Department, Organisation
from kcc_routing.taxonomy import Product
from kcc_routing.workdays import add_working_days

WRITTEN = frozenset({Channel.EMAIL, Channel.WEB, Channel.LETTER, Channel.SOCIAL})


@dataclass(frozen=True)
class Situation:
    """What a decision depends on besides the organisation."""

    contact_id: str
    channel: Channel
    received_at: datetime
    product: Product
    recognised: bool
    has_phone: bool
    transfers_so_far: int = 0
    escalated: bool = False  # a KCC agent hands the contact over: the KCC could not answer it
    department_id: str | None = None  # the agent's choice of department, if any
    present: int = 0  # back-office staff the department reports available
    triage: bool = False  # the product is a guess below the confidence threshold
    confidence: float | None = None
    subject: bool = True  # False: the text seems about no product at all (classify's subject gate)


def decide(situation: Situation, *, organisation: Organisation, now: datetime) -> ContactRoutedData:
    """Who answers this contact, and why."""
    s, org = situation, organisation
    owner = org.departments.get(s.department_id or "") or org.owner(s.product.uri)
    local_now = org.local(now)
    what = f"'{s.product.name}'" if s.recognised else "no recognisable product"
    base = dict(
        contact_id=s.contact_id,
        channel=s.channel,
        department_id=owner.id,
        upl_uri=s.product.uri,
        upl_name=s.product.name,
        transfers_so_far=s.transfers_so_far,
        routed_at=now,
    )
    if s.triage and not s.escalated:
        # A wrong department costs the citizen a second hand-off; an agent reading it costs a minute.
        return ContactRoutedData(
            decision="answer_in_kcc",
            reason=(
                f"{what} is not certain (confidence {s.confidence or 0:.2f})" if s.subject
                else f"the text seems about no product at all (best guess {what}, confidence {s.confidence or 0:.2f})"
            ) + ": to the KCC triage queue, an agent reads it before it goes anywhere",
            due_at=org.due(s.channel, s.received_at),
            **{**base, "department_id": org.kcc.id},
        )
    if not s.escalated and (owner.id == org.kcc.id or owner.has_joined(local_now.date())):
        if owner.id == org.kcc.id:
            reason = f"{what}: a general question, the KCC answers it"
        else:
            reason = f"{what} belongs to {owner.name}, in the KCC since {owner.joins_kcc_on}: the KCC answers first"
        return ContactRoutedData(decision="answer_in_kcc", reason=reason, due_at=org.due(s.channel, s.received_at), **base)

    if s.escalated:
        why = f"the KCC hands {what} over to {owner.name}"
    else:
        why = f"{what} belongs to {owner.name}, which joins the KCC on {owner.joins_kcc_on}: straight to the department"
    if s.channel in WRITTEN:
        return ContactRoutedData(
            decision="forward_to_department",
            reason=f"{why}; {s.channel.value} is forwarded to its inbox, due by the channel norm",
            due_at=org.due(s.channel, s.received_at),
            **base,
        )
    limit = org.config.max_transfers
    if s.transfers_so_far >= limit:
        return _not_transferred(
            f"{why}; transfer refused: already transferred {s.transfers_so_far} times (norm: at most {limit})",
            owner=owner, has_phone=s.has_phone, local_now=local_now, org=org, s=s, base=base,
        )
    if not owner.is_open(local_now):
        return _not_transferred(
            f"{why}; not reachable now: outside its opening hours",
            owner=owner, has_phone=s.has_phone, local_now=local_now, org=org, s=s, base=base,
        )
    if s.present <= 0:
        return _not_transferred(
            f"{why}; not reachable now: nobody present in its back-office",
            owner=owner, has_phone=s.has_phone, local_now=local_now, org=org, s=s, base=base,
        )
    return ContactRoutedData(
        decision="warm_transfer",
        reason=f"{why}; reachable now ({s.present} present, open): warm transfer announced to {owner.back_office_line or owner.name}",
        **base,
    )


def _not_transferred(reason: str, *, owner: Department, has_phone: bool, local_now: datetime, org: Organisation, s: Situation, base: dict) -> ContactRoutedData:
    if has_phone:
        return ContactRoutedData(
            decision="callback",
            reason=f"{reason}: call-back appointment within {owner.callback_norm_working_days} working day(s)",
            due_at=add_working_days(local_now, owner.callback_norm_working_days),
            **base,
        )
    return ContactRoutedData(
        decision="forward_to_department",
        reason=f"{reason}; no phone number for a call-back: forwarded to its inbox",
        due_at=org.due(s.channel, s.received_at),
        **base,
    )
