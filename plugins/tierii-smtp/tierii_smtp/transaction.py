"""Mail transactions over one session: MAIL, RCPT, DATA, the message, the final reply.

With PIPELINING (RFC 2920) the envelope of a message goes out in the same write as the
previous message's content, as Postfix's own client does: one write and one round trip per
message instead of four of each. Replies are still read one by one and matched in order.

What the server may have done decides each failure's outcome: anything that goes wrong
before a message's final ``.`` has been written is transient (the server cannot have
accepted it); a connection lost after it, before the reply, is unknown (it may have been).

Transactions are generators that never wait themselves: they yield :data:`SETUP` when their
session must connect and the socket's file descriptor when they need a reply that has not
arrived, and :mod:`tierii_smtp.drive` resumes them, so that one thread carries every connection
of a batch (threads, one per connection, spent more CPU handing the GIL to each other than
on the mail).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Sequence

from attrs import frozen

from tierii_core.errors import FatalProviderError
from tierii_core.models import Message, Outcome
from tierii_smtp import wire
from tierii_smtp.replies import Reply, queue_id
from tierii_smtp.session import ConnectionLost, Session
from tierii_smtp.settings import NAME

#: each envelope command and the reply class that lets the transaction go on
STAGES = (("MAIL FROM", 2), ("RCPT TO", 2), ("DATA", 3))

#: yielded by a transaction whose session must connect (set up) before it can go on; the
#: driver connects it and resumes it with the exception that raised (SetupFailed), or None
SETUP = "setup"

#: what a transaction yields (an outcome, SETUP, or the file descriptor it waits on for a
#: reply: resume it with True when the wait timed out), what it is resumed with
Wait = int | str
Resume = bool | BaseException | None
Step = Generator[Wait | Outcome, Resume, None]


class ServerStalled(Exception):
    """The server stopped answering mid-transaction: the rest of the slice is not tried
    (each message would wait a whole timeout); the core retries it with backoff."""


@frozen
class _Ready:
    """A message's bytes on the wire: envelope commands and DATA payload."""

    message: Message
    sender: bytes
    recipient: bytes
    payload: bytes


def deliver_all(
    session: Session, messages: Sequence[Message], encode: Callable[[Message], bytes] = Message.as_bytes
) -> Step:
    """One outcome per message, in order, among the waits (see the module's docstring and
    :func:`tierii_smtp.drive.drive`). Raises SetupFailed when (re)connecting fails,
    FatalProviderError when the server wants authentication it did not get, and ServerStalled
    after a message whose reply timed out; the messages without an outcome then were not sent.
    ``encode`` makes each message's bytes (the provider's ``message_bytes``: DKIM-signed when
    a key is configured)."""
    prepared = _Runs(messages, encode)
    announced = False  # this message's envelope went out with the previous message's content
    try:
        for index, message in enumerate(messages):
            item = prepared.take()
            if isinstance(item, Outcome):
                announced = False
                yield item
                continue
            if not announced:
                if session.conn is None:
                    problem = yield SETUP
                    if problem is not None:
                        raise problem
                too_big = _too_big(session, item)
                if too_big is not None:
                    yield too_big
                    continue
            try:
                refusal = yield from (_read_envelope_replies(session) if announced else _open(session, item))
            except ConnectionLost as exc:
                session.drop()
                announced = False
                yield Outcome.transient(message, NAME, f"{_lost(session)} before the message was sent: {exc}")
                _stop_if_stalled(exc)
                continue
            if refusal is not None:
                announced = False
                yield _refused(session, message, *refusal)
                continue
            following = b""
            if session.pipelining and index + 1 < len(messages):
                upcoming = prepared.peek()
                if isinstance(upcoming, _Ready) and _too_big(session, upcoming) is None:
                    following = _envelope(session, upcoming, pipelined=True)
            try:
                session.write(item.payload + following)
            except ConnectionLost as exc:
                session.drop()
                announced = False
                yield Outcome.transient(message, NAME, f"{_lost(session)} while sending the message: {exc}")
                _stop_if_stalled(exc)
                continue
            try:
                reply = yield from reply_of(session)
            except ConnectionLost as exc:
                session.drop()
                announced = False
                yield Outcome.unknown(
                    message,
                    NAME,
                    f"{_lost(session)} after the whole message was sent, before the server answered ({exc}): "
                    "it may have been accepted",
                )
                _stop_if_stalled(exc)
                continue
            outcome = Outcome.sent(message, NAME, queue_id(reply)) if reply.positive else None
            if outcome is None:
                outcome = _refused(session, message, "end of data", reply)
            announced = bool(following) and session.conn is not None
            yield outcome

    finally:
        if announced:  # abandoned with an envelope out and its replies unread: never reuse
            session.drop()


def reply_of(session: Session) -> Generator[Wait, Resume, Reply]:
    """The session's next reply, waiting (yielding its socket) until it has arrived whole."""
    while (reply := session.buffered_reply()) is None:
        if (yield session.fileno()):
            raise ConnectionLost("timed out", timed_out=True)
        session.receive()
    return reply


def _stop_if_stalled(exc: ConnectionLost) -> None:
    if exc.timed_out:
        raise ServerStalled(str(exc))


#: bytes of payload made in one run (see :class:`_Runs`): a run of the usual ~2 KB messages is
#: the whole slice; one of large messages stops there, so they are not all held at once
RUN_BYTES = 1 << 20


class _Runs:
    """A slice's messages ready for the wire, made a run at a time and let go of once taken.

    A run is made in one go, with no system call in between: made one by one between the
    network's calls (the caches and branch predictors cold at each), serializing and signing
    made a whole signed send cost a fifth more CPU (bench/dkim_signing.py, 3,000 messages with
    Ed25519: 0.74 s -> 0.60 s)."""

    def __init__(self, messages: Sequence[Message], encode: Callable[[Message], bytes]) -> None:
        self._messages, self._encode = messages, encode
        self._made = 0
        self._ahead: deque[_Ready | Outcome] = deque()

    def take(self) -> _Ready | Outcome:
        """The next message's item (there is one: one call per message)."""
        self._fill()
        return self._ahead.popleft()

    def peek(self) -> _Ready | Outcome:
        """The item after the one taken last, left in place."""
        self._fill()
        return self._ahead[0]

    def _fill(self) -> None:
        """The next run, when nothing made is left."""
        if self._ahead:
            return
        size = 0
        while size < RUN_BYTES and self._made < len(self._messages):
            item = _ready(self._messages[self._made], self._encode)
            self._made += 1
            self._ahead.append(item)
            if isinstance(item, _Ready):
                size += len(item.payload)


def _ready(message: Message, encode: Callable[[Message], bytes]) -> _Ready | Outcome:
    try:
        return _Ready(
            message,
            wire.address(message.return_path or message.sender.email, "sender"),
            wire.address(message.contact.email, "recipient"),
            wire.payload(encode(message)),
        )
    except (ValueError, UnicodeError) as exc:  # the message as built, not the recipient
        return Outcome.unsendable(message, NAME, f"cannot be sent over SMTP: {exc}")


def _too_big(session: Session, item: _Ready) -> Outcome | None:
    limit = session.size_limit
    if limit is None or len(item.payload) <= limit:
        return None
    where = session.settings.where
    return Outcome.permanent(
        item.message, NAME, f"the message is {len(item.payload)} bytes; {where} takes at most {limit}"
    )


def _envelope(session: Session, item: _Ready, *, pipelined: bool) -> bytes:
    size = len(item.payload) if session.size_limit is not None else None
    commands = wire.mail_from(item.sender, size) + wire.rcpt_to(item.recipient)
    return commands + b"DATA\r\n" if pipelined else commands


Refusal = Generator[Wait, Resume, "tuple[str, Reply] | None"]


def _open(session: Session, item: _Ready) -> Refusal:
    """Send the envelope and read its replies: None when the server waits for the message."""
    reset = session.needs_reset
    session.needs_reset = False
    if session.pipelining:
        session.write((b"RSET\r\n" if reset else b"") + _envelope(session, item, pipelined=True))
        if reset:
            yield from reply_of(session)  # whatever RSET says, the transaction below starts afresh
        return (yield from _read_envelope_replies(session))
    if reset:
        session.write(b"RSET\r\n")
        yield from reply_of(session)
    mail, rcpt = _envelope(session, item, pipelined=False).split(b"\r\n", 1)
    replies: list[Reply] = []
    for command in (mail + b"\r\n", rcpt, b"DATA\r\n"):
        session.write(command)
        replies.append((yield from reply_of(session)))
        if replies[-1].code // 100 not in (2, 3):
            break
    return (yield from _first_refusal(session, replies))


def _read_envelope_replies(session: Session) -> Refusal:
    replies: list[Reply] = []
    for _stage in STAGES:
        replies.append((yield from reply_of(session)))
        if replies[-1].closing:  # the server hangs up: no further replies will come
            break
    return (yield from _first_refusal(session, replies))


def _first_refusal(session: Session, replies: list[Reply]) -> Refusal:
    """The first envelope reply that refuses, with its stage (the transaction abandoned), or None."""
    for (stage, expected), reply in zip(STAGES, replies, strict=False):
        if reply.code // 100 != expected:
            yield from _abandon(session, replies)
            return stage, reply
    return None


def _abandon(session: Session, replies: list[Reply]) -> Generator[Wait, Resume, None]:
    """After a refusal: end a DATA the server accepted anyway, and reset before the next."""
    if any(r.closing for r in replies):
        session.drop()
        return
    try:
        if len(replies) == 3 and replies[2].code == 354:
            session.write(b".\r\n")  # an empty message to no valid recipient: refused
            yield from reply_of(session)
    except ConnectionLost:
        session.drop()
        return
    session.needs_reset = True


def _refused(session: Session, message: Message, stage: str, reply: Reply) -> Outcome:
    where = session.settings.where
    if reply.closing:
        session.drop()
    if reply.auth_failure:
        session.drop()
        raise FatalProviderError(
            f"{where} refused to take mail with these settings: {reply} (reply to {stage}); "
            "check TIERII_SMTP_USERNAME, TIERII_SMTP_PASSWORD and TIERII_SMTP_SECURITY"
        )
    reason = f"{reply} (reply to {stage})"
    if reply.permanent:
        return Outcome.permanent(message, NAME, reason)
    if not reply.transient:  # not an SMTP answer to this command: start over next time
        session.drop()
    return Outcome.transient(message, NAME, reason)


def _lost(session: Session) -> str:
    return f"connection to {session.settings.where} lost"
