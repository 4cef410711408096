"""Proof sends: the first recipients' messages, exactly as built for them, sent to reviewers.

``tierii send ... --proof owner@shop.example,counsel@firm.example [--proof-count N]``: the
campaign is prepared as for the real send (the compliance gate included: a template the
rules refuse is refused here too), then each of the first N messages of the segment goes to
every proof address with ``[PROOF]`` before the subject and a ``X-TierII-Proof-For`` header
naming the real recipient. Nothing is written to the journal: the real send is untouched.
The campaign's identity (templates' content hashes) is recorded, for ``tierii approve``.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence

import attrs
from attrs import frozen

from tierii_core.addresses import InvalidAddress, normalise_address
from tierii_core.errors import ConfigurationError
from tierii_core.logs import get_logger
from tierii_core.models import Address, Contact, Message, Outcome, Status

log = get_logger()

SUBJECT_PREFIX = "[PROOF] "
PROOF_FOR_HEADER = "X-TierII-Proof-For"


@frozen
class ProofResult:
    outcomes: tuple[Outcome, ...]  # one per (message, proof address)
    recipients: tuple[str, ...]  # whose messages were proofed
    skipped: tuple[str, ...]  # the first records that build no message (excluded, failed), with why


def parse_proof_addresses(text: str) -> tuple[str, ...]:
    """``a@x,b@y`` -> normalised addresses; a bad one is a usage error naming it."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(normalise_address(part))
        except InvalidAddress as exc:
            raise ConfigurationError(f"--proof: {part!r} is not an email address: {exc}") from None
    if not found:
        raise ConfigurationError("--proof: give at least one address, e.g. --proof owner@shop.example")
    return tuple(found)


def proof_copy(message: Message, reviewer: str) -> Message:
    """``message`` as ``reviewer`` gets it: same content, [PROOF] subject, the real recipient named."""
    real = message.to.email
    domain = message.message_id.rsplit("@", 1)[-1].rstrip(">") or "tierii.invalid"
    return attrs.evolve(
        message,
        contact=Contact(reviewer, message.contact.fields, message.contact.origin),
        to=Address(reviewer),
        subject=SUBJECT_PREFIX + message.subject,
        message_id=f"<proof.{uuid.uuid4().hex}@{domain}>",
        headers=(*message.headers, (PROOF_FOR_HEADER, real)),
    )


def send_proofs(campaign: object, reviewers: Sequence[str], count: int) -> ProofResult:
    """Build the first ``count`` messages of the (prepared) campaign and send each to every reviewer.

    One message per provider call, so that outcomes to one reviewer never mix up.
    """
    from tierii_core.runner import Campaign

    assert isinstance(campaign, Campaign)
    messages: list[Message] = []
    skipped: list[str] = []
    for decision in campaign.preview(10**9):
        if decision.message is not None:
            messages.append(decision.message)
        elif decision.outcome is not None:
            skipped.append(f"{decision.origin}: {decision.outcome.status.value}: {decision.outcome.reason}")
        if len(messages) >= count:
            break
    if not messages:
        raise ConfigurationError("--proof: no contact of the segment gets a message (nothing to proof)")
    slot = campaign.slots[0]
    outcomes: list[Outcome] = []
    with slot.provider as provider:
        for message, reviewer in itertools.product(messages, reviewers):
            copy = proof_copy(message, reviewer)
            try:
                result = provider.send([copy])
            except Exception as exc:  # a proof failure is reported, never a traceback
                result = [Outcome(reviewer, Status.FAILED, provider.name, reason=str(exc))]
            for outcome in result:
                log.info(
                    "proof.sent" if outcome.status is Status.SENT else "proof.failed",
                    to=reviewer,
                    proof_for=message.to.email,
                    reason=outcome.reason,
                )
                outcomes.append(outcome)
    return ProofResult(tuple(outcomes), tuple(m.to.email for m in messages), tuple(skipped))
