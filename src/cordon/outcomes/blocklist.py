"""The ISP block list: a versioned, signed list of live confirmed URLs.

**What is listed.** Every confirmed URL (``url_confirmation``) whose crawl schedule says
``live`` and that is not removed, as long as some report naming it may be acted on by others
(CLEAR, GREEN or AMBER; evidence only AMBER+STRICT or RED reports hold is not published).
URLs are listed one by one, except that a registrable domain is listed whole (``domain``
entry) when it is **dedicated**: at least ``outcomes.blocklist_domain_min_urls`` of its URLs
are listed, and every URL Cordon knows on that domain is confirmed. One unconfirmed URL on the
domain (a shared host, a platform) keeps the entries per URL.

**Format.** The list is UTF-8 text, one entry per line, sorted: ``url <url>`` or
``domain <registrable domain>``, each line ending with ``\\n``. The **manifest** is a JSON object
(``format`` ``cordon-blocklist/1``, ``version``, ``published_at``, ``entries``, ``sha256`` of
the list text, ``previous_version``, ``previous_sha256``, ``key_id``); its **signature** is
Ed25519 over the manifest's canonical bytes (keys sorted, no spaces, UTF-8), in hex. The public
key is ``blocklist-signing.pub.pem`` in the key directory (``GET /v1/blocklist/public-key``).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, func, select

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain.partners import OrgType
from cordon.keys import blocklist_signing_key
from cordon.notices import repo as notices
from cordon.notices.kinds import APPEAL, BLOCKLIST_CHANGE
from cordon.notices.policy import NoticePolicy
from cordon.outcomes import repo
from cordon.store.tables import report, report_url, url
from cordon.store.tables_crawl import crawl_schedule
from cordon.store.tables_money import notice, url_confirmation
from cordon.store.tables_outcomes import blocklist_appeal, blocklist_version, notice_item

FORMAT = "cordon-blocklist/1"
KIND = "blocklist_version"


class BlocklistError(ValueError):
    """A block-list request that cannot be carried out; ``field`` names the bad part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Version:
    version: int
    published_at: datetime
    entries: list[dict[str, Any]]
    text: str
    manifest: dict[str, Any]
    signature: str


def canonical(manifest: dict[str, Any]) -> bytes:
    """The bytes a manifest's signature covers."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def list_text(entries: list[dict[str, Any]]) -> str:
    """The list as published: ``<kind> <value>`` lines, sorted, newline-terminated."""
    return "".join(f"{e['kind']} {e['value']}\n" for e in entries)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def verify(
    text: bytes, manifest: dict[str, Any], signature_hex: str, public: Ed25519PublicKey
) -> None:
    """Check a downloaded list against its manifest and the manifest against its signature.

    Raises :class:`BlocklistError` naming what does not hold.
    """
    try:
        public.verify(bytes.fromhex(signature_hex), canonical(manifest))
    except (InvalidSignature, ValueError):
        raise BlocklistError("the manifest's signature does not verify") from None
    if hashlib.sha256(text).hexdigest() != manifest.get("sha256"):
        raise BlocklistError("the list does not match the manifest's sha256")
    lines = text.decode().splitlines()
    if len(lines) != manifest.get("entries"):
        raise BlocklistError("the list does not have the manifest's number of entries")


def current_entries(conn: Connection, settings: Settings) -> list[dict[str, Any]]:
    """What the list would hold now (see the module for the rule)."""
    removed = select(notice_item.c.url_id).where(notice_item.c.state == "removed")
    actionable = select(report_url.c.url_id).join(report, report.c.id == report_url.c.report_id)
    actionable = actionable.where(report.c.tlp.in_(repo.ACTIONABLE_TLP))
    rows = conn.execute(
        select(url.c.id, url.c.url, url.c.registrable_domain)
        .join(url_confirmation, url_confirmation.c.url_id == url.c.id)
        .join(crawl_schedule, crawl_schedule.c.url_id == url.c.id)
        .where(
            crawl_schedule.c.state == "live",
            url.c.id.not_in(removed),
            url.c.id.in_(actionable),
        )
        .order_by(url.c.url)
    ).all()
    by_domain: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_domain[r.registrable_domain].append(r)
    known: dict[str, int] = dict(
        conn.execute(
            select(url.c.registrable_domain, func.count())
            .where(url.c.registrable_domain.in_(sorted(by_domain)))
            .group_by(url.c.registrable_domain)
        ).all()
    )
    confirmed: dict[str, int] = dict(
        conn.execute(
            select(url.c.registrable_domain, func.count())
            .join(url_confirmation, url_confirmation.c.url_id == url.c.id)
            .where(url.c.registrable_domain.in_(sorted(by_domain)))
            .group_by(url.c.registrable_domain)
        ).all()
    )
    out: list[dict[str, Any]] = []
    minimum = settings.outcomes.blocklist_domain_min_urls
    for domain, listed in by_domain.items():
        dedicated = len(listed) >= minimum and known.get(domain) == confirmed.get(domain)
        if dedicated:
            out.append({"kind": "domain", "value": domain, "url_ids": [int(r.id) for r in listed]})
        else:
            out.extend({"kind": "url", "value": r.url, "url_ids": [int(r.id)]} for r in listed)
    return sorted(out, key=lambda e: (e["kind"], e["value"]))


def _version(row: Any) -> Version:
    entries = list(row.entries)
    return Version(
        version=int(row.version),
        published_at=row.published_at,
        entries=entries,
        text=list_text(entries),
        manifest=dict(row.manifest),
        signature=row.signature,
    )


def get_version(conn: Connection, version: int | None = None) -> Version | None:
    """A published version (the newest when ``version`` is None)."""
    stmt = select(blocklist_version)
    stmt = (
        stmt.where(blocklist_version.c.version == version)
        if version is not None
        else stmt.order_by(blocklist_version.c.version.desc())
    )
    row = conn.execute(stmt.limit(1)).first()
    return None if row is None else _version(row)


def publish(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    *,
    published_by: int | None = None,
) -> tuple[Version, bool]:
    """Publish a new version when the list changed; returns (newest version, new or not).

    Every active ISP is told of a new version (notice kind ``blocklist_change``).
    """
    entries = current_entries(conn, settings)
    previous = get_version(conn)
    if previous is not None and previous.entries == entries:
        return previous, False
    now = clock.now()
    text = list_text(entries)
    private = blocklist_signing_key(settings.key_dir)
    number = 1 if previous is None else previous.version + 1
    manifest = {
        "format": FORMAT,
        "version": number,
        "published_at": now.isoformat().replace("+00:00", "Z"),
        "entries": len(entries),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "previous_version": None if previous is None else previous.version,
        "previous_sha256": None if previous is None else previous.manifest["sha256"],
        "key_id": key_id(private.public_key()),
    }
    signature = private.sign(canonical(manifest)).hex()
    conn.execute(
        blocklist_version.insert().values(
            version=number,
            published_at=now,
            published_by=published_by,
            entries=entries,
            list_sha256=manifest["sha256"],
            manifest=manifest,
            signature=signature,
            key_id=manifest["key_id"],
        )
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:blocklist:publish",
        object_kind=KIND,
        object_ids=[number],
        details={"entries": len(entries), "sha256": manifest["sha256"]},
    )
    made = get_version(conn, number)
    assert made is not None
    change = diff(previous, made)
    policy = NoticePolicy.from_settings(settings)
    for isp in repo.orgs_of_type(conn, OrgType.ISP):
        notices.issue(
            conn,
            clock,
            actor,
            policy,
            kind=BLOCKLIST_CHANGE,
            recipient_org_id=isp,
            subject_kind=KIND,
            subject_id=number,
            title=f"Block list version {number}: {len(change['added'])} added, "
            f"{len(change['removed'])} removed",
            body=f"Version {number} of the block list is published with {len(entries)} "
            f"entries. Download it with GET /v1/blocklist and verify its manifest with the "
            "public key (GET /v1/blocklist/public-key).",
            payload={"version": number, "manifest": manifest, "signature": signature, **change},
        )
    return made, True


def diff(old: Version | None, new: Version) -> dict[str, Any]:
    """Entries added and removed from ``old`` (None: the empty list) to ``new``."""
    before = {(e["kind"], e["value"]) for e in (old.entries if old else [])}
    after = {(e["kind"], e["value"]) for e in new.entries}
    return {
        "from_version": None if old is None else old.version,
        "to_version": new.version,
        "added": [{"kind": k, "value": v} for k, v in sorted(after - before)],
        "removed": [{"kind": k, "value": v} for k, v in sorted(before - after)],
    }


def public_key_pem(key_dir: Path) -> str:
    """The public key ISPs verify manifests with (made with the signing key if missing)."""
    key = blocklist_signing_key(key_dir)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# ------------------------------------------------------------------------------ appeals


def appeal(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    *,
    entry: str,
    contact: str,
    message: str,
) -> dict[str, Any]:
    """An appeal by the owner of a listed (or noticed) URL or domain.

    It reaches every organisation that acted on it, in its inbox (notice kind ``appeal``):
    the ISPs that received the block list, the member organisations a takedown notice about it
    was addressed to, the organisations that issued those notices, and the coordinators.
    Raises :class:`BlocklistError` when the entry names nothing Cordon listed or noticed.
    """
    entry = entry.strip()
    if not entry or len(entry) > 2000:
        raise BlocklistError("name the listed URL or domain", "entry")
    if not notices.is_email(contact.strip()):
        raise BlocklistError(f"{contact!r} is not an e-mail address", "contact")
    if not message.strip() or len(message) > 5000:
        raise BlocklistError("say why (at most 5000 characters)", "message")
    url_ids = [
        int(i)
        for i in conn.execute(
            select(url.c.id).where((url.c.url == entry) | (url.c.registrable_domain == entry))
        ).scalars()
    ]
    listed = any(entry == e["value"] for v in _all_versions(conn) for e in v.entries) or bool(
        url_ids and repo_items(conn, url_ids)
    )
    if not url_ids or not listed:
        raise BlocklistError("this URL or domain is not on the block list nor noticed", "entry")
    orgs: set[int] = set(repo.orgs_of_type(conn, OrgType.ISP))
    orgs |= set(repo.orgs_of_type(conn, OrgType.COORDINATOR))
    for row in conn.execute(
        select(notice.c.recipient_org_id, notice.c.issuer_org_id)
        .join(notice_item, notice_item.c.notice_id == notice.c.id)
        .where(notice_item.c.url_id.in_(url_ids))
    ).all():
        orgs |= {int(o) for o in (row.recipient_org_id, row.issuer_org_id) if o is not None}
    now = clock.now()
    appeal_id = int(
        conn.execute(
            blocklist_appeal.insert()
            .values(
                entry=entry,
                url_ids=url_ids,
                contact=contact.strip(),
                message=message.strip(),
                received_at=now,
                notice_ids=[],
            )
            .returning(blocklist_appeal.c.id)
        ).scalar_one()
    )
    policy = NoticePolicy.from_settings(settings)
    made = [
        notices.issue(
            conn,
            clock,
            actor,
            policy,
            kind=APPEAL,
            recipient_org_id=org,
            subject_kind="blocklist_appeal",
            subject_id=appeal_id,
            title=f"Appeal about {entry}",
            body=f"The owner of {entry} appeals against the action taken:\n\n{message.strip()}\n\n"
            f"Contact: {contact.strip()}",
            payload={"entry": entry, "url_ids": url_ids, "contact": contact.strip()},
        ).id
        for org in sorted(orgs)
    ]
    conn.execute(
        blocklist_appeal.update().where(blocklist_appeal.c.id == appeal_id).values(notice_ids=made)
    )
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:blocklist_appeal:create",
        object_kind="blocklist_appeal",
        object_ids=[appeal_id],
        details={"entry": entry, "notices": made},
    )
    return {"appeal_id": appeal_id, "told": len(made)}


def _all_versions(conn: Connection) -> list[Version]:
    return [_version(r) for r in conn.execute(select(blocklist_version)).all()]


def repo_items(conn: Connection, url_ids: list[int]) -> bool:
    return (
        conn.execute(select(notice_item.c.id).where(notice_item.c.url_id.in_(url_ids))).first()
        is not None
    )
