"""The world's SMTP sink and its abuse desks.

Every message is kept (in memory). A message is a notice to each abuse desk whose mailbox is
among its envelope recipients (RCPT TO). The sites it names are the world's domains found in its
subject, its text parts and its JSON attachments (URLs, bare domain names, ``www.`` and other
subdomains all count); the merchant accounts it names are account ids and checkout URLs found
the same way, plus the accounts used by the named sites. Each desk then counts the notice
against every named thing it is responsible for and acts according to its :class:`Desk`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from cordon.world.model import Desk
from cordon.world.state import WorldState

_HOST = re.compile(r"(?<![a-z0-9.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+test)(?![a-z0-9-])")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{6,}")


@dataclass
class SinkMessage:
    """One message the sink received, and what the desks made of it."""

    index: int
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    subject: str
    data: bytes
    desks: list[str]
    sites: list[str]
    domains: list[str]
    accounts: list[str]
    actions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the raw message as UTF-8 text, undecodable bytes replaced)."""
        return {
            "index": self.index,
            "received_at": self.received_at.isoformat(),
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "subject": self.subject,
            "data": self.data.decode("utf-8", "replace"),
            "desks": self.desks,
            "sites": self.sites,
            "domains": self.domains,
            "accounts": self.accounts,
            "actions": self.actions,
        }


@dataclass(frozen=True)
class _DeskInfo:
    id: str
    kind: str  # "host", "cdn", "registrar", "payment"
    desk: Desk


def _texts(message: EmailMessage) -> list[str]:
    out = [str(message.get("subject", ""))]
    for part in message.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = (part.get_filename() or "").lower()
        payload = part.get_payload(decode=True)  # lenient: a broken encoding gives raw bytes
        if not isinstance(payload, bytes):
            continue
        text = payload.decode(part.get_content_charset() or "utf-8", "replace")
        if ctype == "application/json" or filename.endswith(".json") or ctype.endswith("+json"):
            try:
                out.extend(_json_strings(json.loads(text)))
            except ValueError:
                out.append(text)
        elif ctype.startswith("text/"):
            out.append(text)
    return out


def _json_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _json_strings(v)] + [str(k) for k in value]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    return []


class Sink:
    """Keeps messages and runs the abuse desks."""

    def __init__(self, state: WorldState) -> None:
        self.state = state
        self.messages: list[SinkMessage] = []
        truth = state.truth
        self.desks: dict[str, _DeskInfo] = {}
        for p in truth.providers:
            self.desks[p.abuse_email.lower()] = _DeskInfo(
                p.id, "cdn" if p.kind == "cdn" else "host", p.desk
            )
        for r in truth.registrars:
            self.desks[r.abuse_email.lower()] = _DeskInfo(r.id, "registrar", r.desk)
        for s in truth.payment_providers:
            self.desks[s.abuse_email.lower()] = _DeskInfo(s.id, "payment", s.desk)
        self.counts: dict[tuple[str, str], int] = {}
        self.acted: set[tuple[str, str]] = set()

    def receive(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> SinkMessage:
        """Keep one message and let the addressed desks act on it."""
        self.state.tick()
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        texts = "\n".join(_texts(message))
        domains: list[str] = []
        sites: list[str] = []
        for host in sorted(set(_HOST.findall(texts.lower()))):
            state = self.state.domain_for(host)
            if state is not None and state.name not in domains:
                domains.append(state.name)
                if state.site.id not in sites:
                    sites.append(state.site.id)
        accounts = sorted(
            {
                self.state.account_ids[t]
                for t in _TOKEN.findall(texts)
                if t in self.state.account_ids
            }
        )
        desks = [self.desks[r.lower()] for r in rcpt_tos if r.lower() in self.desks]
        record = SinkMessage(
            index=len(self.messages),
            received_at=self.state.clock.now(),
            mail_from=mail_from,
            rcpt_tos=list(rcpt_tos),
            subject=str(message.get("subject", "")),
            data=data,
            desks=[d.id for d in desks],
            sites=sites,
            domains=domains,
            accounts=accounts,
        )
        self.messages.append(record)
        for desk in desks:
            for target, act in self._targets(desk, domains, sites, accounts):
                self._count(desk, target, act, record)
        return record

    def _targets(
        self, desk: _DeskInfo, domains: list[str], sites: list[str], accounts: list[str]
    ) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        state = self.state
        if desk.kind in ("host", "cdn"):
            cdn = desk.kind == "cdn"
            for site_id in sites:
                site = state.truth.site(site_id)
                if any(
                    (v.hosting.cdn if cdn else v.hosting.provider) == desk.id
                    for v in state.vhosts[site_id]
                ):
                    out.append(
                        (
                            site_id,
                            lambda s=site, c=cdn, d=desk.id, cause="": state.take_down_vhosts(
                                s, d, cdn=c, cause=cause
                            ),
                        )
                    )
        elif desk.kind == "registrar":
            for name in domains:
                if state.domains[name].registrar == desk.id:
                    out.append((name, lambda n=name, cause="": state.hold_domain(n, cause=cause)))
        else:
            named = set(accounts)
            for site_id in sites:
                named.update(state.truth.site(site_id).identifiers.accounts)
            for ref in sorted(named):
                if ref.startswith(desk.id + ":"):
                    out.append((ref, lambda r=ref, cause="": state.close_account(r, cause=cause)))
        return out

    def _count(self, desk: _DeskInfo, target: str, act: Any, record: SinkMessage) -> None:
        key = (desk.id, target)
        self.counts[key] = self.counts.get(key, 0) + 1
        if key in self.acted or desk.desk.acts == "never":
            record.actions.append({"desk": desk.id, "target": target, "outcome": "ignored"})
            return
        rule = desk.desk
        cause = f"notice {record.index} to {desk.id}"
        if rule.acts == "first_notice" or (
            rule.acts == "after_notices" and self.counts[key] >= rule.notices
        ):
            self.acted.add(key)
            act(cause=cause)
            record.actions.append({"desk": desk.id, "target": target, "outcome": "acted"})
        elif rule.acts == "after_delay":
            self.acted.add(key)
            when = record.received_at + timedelta(seconds=rule.delay_seconds)
            self.state.schedule(when, lambda: act(cause=cause), f"{desk.id} acts on {target}")
            record.actions.append(
                {"desk": desk.id, "target": target, "outcome": "scheduled", "at": when.isoformat()}
            )
        else:
            record.actions.append(
                {"desk": desk.id, "target": target, "outcome": "counted", "count": self.counts[key]}
            )


class SinkHandler:
    """The aiosmtpd handler: accept every recipient, keep every message."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.sink.receive(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 Message accepted for delivery"
