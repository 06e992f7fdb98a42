"""Each recipient's message: personal links, Message-ID, VERP envelope, list headers, DKIM.

Built from a `CompiledIssue` (MJML and premailer ran once); per recipient only tokens are
signed and bytes joined. The Message-ID is derived from (campaign, subscriber), so a message
sent again after a crash carries the same one and the receiving side can drop the copy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from email.header import Header
from pathlib import Path

from mailer.config import Config
from mailer.domain import DeliveryToSend, PersonalLinks, Recipient
from mailer.errors import ConfigError
from mailer.render.message import MessageTemplate
from mailer.render.pipeline import CompiledIssue
from mailer.tokens import Signer
from mailer.transport.base import Envelope

__all__ = [
    "CampaignMessages",
    "DkimSigner",
    "ListIdentity",
    "list_header_lines",
    "sender_domain",
]

# What DKIM signs: dkimpy's default list leaves List-Unsubscribe-Post out, and a one-click
# unsubscribe (RFC 8058) needs both List-Unsubscribe headers covered by the signature.
DKIM_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"mime-version",
    b"content-type", b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id",
)  # fmt: skip


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ATOM_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$")


def sender_domain(config: Config) -> str:
    return config.sender.from_address.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class ListIdentity:
    id: int
    slug: str
    name: str


def list_header_lines(mailing_list: ListIdentity, campaign_id: int, domain: str) -> bytes:
    """List-Id (RFC 2919) and Feedback-ID as header lines, written here rather than through
    `encode_header`: that one RFC 2047-encodes a whole value that is not ASCII or not short,
    which would hide the `<slug.domain>` identifier and the Feedback-ID's fields (what clients,
    filters and feedback loops read) inside an encoded word. Only the list's name is encoded."""
    ident = f"<{mailing_list.slug}.{domain}>"
    name = " ".join(_CONTROL.sub(" ", mailing_list.name).split())  # data: never a line break
    if not name:
        phrase = ""
    elif name.isascii():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        phrase = name if _ATOM_PHRASE.match(name) else f'"{quoted}"'
    else:
        phrase = Header(name, "utf-8", maxlinelen=76, header_name="List-Id").encode(linesep="\r\n")
    if not phrase:
        list_id = f"List-Id: {ident}"
    else:
        last_line = f"List-Id: {phrase}".rpartition("\r\n")[2]
        fold = "\r\n " if len(last_line) + 1 + len(ident) > 76 else " "
        list_id = f"List-Id: {phrase}{fold}{ident}"
    # Feedback loops (Gmail) aggregate complaints by these fields.
    feedback = f"Feedback-ID: {campaign_id}:{mailing_list.slug}:newsletter:{domain}"
    return f"{list_id}\r\n{feedback}\r\n".encode("ascii")


class DkimSigner:
    """Signs a message with dkimpy (relaxed/relaxed, rsa-sha256)."""

    def __init__(self, domain: str, selector: str, key_file: str) -> None:
        try:
            self._key = Path(key_file).read_bytes()
        except OSError as exc:
            raise ConfigError(
                "dkim.private_key_file", f"cannot read {key_file}: {exc.strerror}"
            ) from None
        self._domain = domain.encode("ascii")
        self._selector = selector.encode("ascii")

    def sign(self, message: bytes) -> bytes:
        import dkim  # type: ignore[import-untyped]  # dkimpy: only when signing is configured

        signature: bytes = dkim.sign(
            message,
            self._selector,
            self._domain,
            self._key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(DKIM_HEADERS),
        )
        return signature + message


class CampaignMessages:
    """Builds each delivery's envelope and bytes for one campaign."""

    def __init__(
        self,
        compiled: CompiledIssue,
        *,
        campaign_id: int,
        subject: str,
        mailing_list: ListIdentity,
        config: Config,
        signer: Signer,
        dkim_signer: DkimSigner | None = None,
        test: bool = False,
    ) -> None:
        self.campaign_id = campaign_id
        self._signer = signer
        self._dkim = dkim_signer
        self._test = test
        self._base = config.web.base_url
        domain = sender_domain(config)
        self._domain = domain
        self._bounce_domain = config.sending.bounce_domain or domain
        self._mailbox = config.sending.unsubscribe_mailbox
        self._list = mailing_list
        template = MessageTemplate.build(
            subject=subject,
            sender=config.sender,
            html=compiled.html,
            text=compiled.text,
            boundary_seed=compiled.digest,
        )
        self.template = dataclasses.replace(
            template, head=template.head + list_header_lines(mailing_list, campaign_id, domain)
        )

    @property
    def domain(self) -> str:
        """The sender's domain: Message-IDs and List-Id live under it."""
        return self._domain

    # --------------------------------------------------------------- parts

    def message_id(self, subscriber_id: int) -> str:
        token = self._signer.sign("message-id", self.campaign_id, subscriber_id)
        return f"<{token}@{self._domain}>"

    def return_path(self, delivery_id: int) -> str:
        """VERP: the bounce comes back to an address that names (and authenticates) the
        delivery, whatever the bounce's format."""
        return f"bounces+{self._signer.sign('verp', delivery_id)}@{self._bounce_domain}"

    def _unsubscribe_token(self, subscriber_id: int) -> str:
        purpose = "test-unsubscribe" if self._test else "unsubscribe"
        return self._signer.sign(purpose, subscriber_id, self._list.id, self.campaign_id)

    def links(self, subscriber_id: int, *, unsubscribe: str = "") -> PersonalLinks:
        unsubscribe = unsubscribe or self._unsubscribe_token(subscriber_id)
        purpose = "test-" if self._test else ""
        preferences = self._signer.sign(f"{purpose}preferences", subscriber_id)
        view = self._signer.sign("view", self.campaign_id, subscriber_id)
        return PersonalLinks(
            view_online_url=f"{self._base}/view/{view}",
            preferences_url=f"{self._base}/preferences/{preferences}",
            unsubscribe_url=f"{self._base}/unsubscribe/{unsubscribe}",
        )

    def unsubscribe_mailto(self, subscriber_id: int, *, unsubscribe: str = "") -> str:
        if not self._mailbox or self._test:
            return ""
        token = unsubscribe or self._unsubscribe_token(subscriber_id)
        return f"mailto:{self._mailbox}+{token}@{self._bounce_domain}?subject=unsubscribe"

    # --------------------------------------------------------------- whole messages

    def envelope(
        self,
        delivery: DeliveryToSend,
        *,
        message_id: str | None = None,
        now: dt.datetime | None = None,
    ) -> Envelope:
        recipient = Recipient(delivery.email, delivery.first_name, delivery.last_name)
        data = self.render(recipient, delivery.subscriber_id, message_id=message_id, now=now)
        return Envelope(self.return_path(delivery.id), delivery.email, data)

    def render(
        self,
        recipient: Recipient,
        subscriber_id: int,
        *,
        message_id: str | None = None,
        now: dt.datetime | None = None,
    ) -> bytes:
        unsubscribe = self._unsubscribe_token(subscriber_id)  # signed once for both uses
        data = self.template.render(
            recipient,
            self.links(subscriber_id, unsubscribe=unsubscribe),
            message_id=message_id or self.message_id(subscriber_id),
            date=now,
            unsubscribe_mailto=self.unsubscribe_mailto(subscriber_id, unsubscribe=unsubscribe),
        )
        return self._dkim.sign(data) if self._dkim is not None else data
