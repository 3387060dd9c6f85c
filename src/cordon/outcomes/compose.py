"""From a confirmed URL to takedown notices: who must act, batched per recipient.

For each confirmed URL (stage ``outcome_confirm``):

* the **hosting provider**, or the **CDN** fronting the site, gets a ``host_takedown``;
* the **registrar** gets a ``registrar_notice`` (``outcomes.registrar_notices``);
* the **hotlines and law-enforcement partners** that jurisdiction routing names for the
  hosting country get an ``le_referral`` (``outcomes.referrals``).

A recipient is a member organisation when one registered the abuse mailbox as its e-mail
endpoint, else the mailbox itself. URLs for one recipient within ``outcomes.batch_window_minutes``
go into one draft notice, sent when the window closes (stage ``outcome_send``) with one XARF v4
report per URL. Only evidence the recipient may receive is used: a URL that only
AMBER+STRICT or RED reports name is not noticed outside its owners. A URL whose pictures (by
SHA-256), whose domain, or which itself was removed before opens a new chain linked to the old
one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from cordon.audit import log as audit
from cordon.clock import Clock
from cordon.config import Settings
from cordon.domain.partners import OrgType
from cordon.domain.urls import defang
from cordon.notices import links
from cordon.notices import repo as notices
from cordon.notices.kinds import HOST_TAKEDOWN, LE_REFERRAL, REGISTRAR_NOTICE, get_kind
from cordon.notices.policy import NoticePolicy
from cordon.notices.states import State
from cordon.outcomes import repo, templates, xarf
from cordon.pipeline import repo as work

SEND_STAGE = "outcome_send"
VERIFY_STAGE = "outcome_verify"
CONFIRM_STAGE = "outcome_confirm"
#: How long a confirmed URL waits for the attribution of its newest capture.
ATTRIBUTION_PATIENCE = timedelta(hours=1)
#: How long a confirmed URL without any attribution is tried again before it is given up.
ATTRIBUTION_GIVE_UP = timedelta(days=1)
ROLE_KIND = {"host": HOST_TAKEDOWN, "cdn": HOST_TAKEDOWN, "registrar": REGISTRAR_NOTICE}


class NotReady(Exception):
    """The URL cannot be noticed yet (no attribution); the stage tries again later."""


@dataclass(frozen=True)
class Recipient:
    role: str
    kind: str
    org_id: int | None
    address: str | None
    name: str


def detection_method(summary: dict[str, Any]) -> str:
    """``hash_match`` when the confirmation names bank matches, else ``manual_review``."""
    return "hash_match" if summary.get("matches") else "manual_review"


def on_confirmed(
    conn: Connection, clock: Clock, actor: audit.Actor, settings: Settings, url_id: int
) -> list[str]:
    """Put a confirmed URL into the draft notice of every party that must act on it.

    Idempotent: a URL already listed in an unfinished notice of a kind and recipient is not
    listed again. Returns what it did, one line per recipient. Raises :class:`NotReady`
    while the URL has no attribution (it asks for one).
    """
    conf = repo.confirmation(conn, url_id)
    if conf is None:
        return ["not confirmed"]
    summary = dict(conf.match_summary or {})
    classification = summary.get("classification")
    if classification not in xarf.CLASSIFICATIONS:
        audit.record(
            conn,
            clock,
            actor,
            f"{actor.source}:outcome:unclassified",
            object_kind="url",
            object_ids=[url_id],
            details={"reason": "no classification: no notice without one"},
        )
        return ["no classification"]
    facts = repo.report_facts(conn, url_id)
    if not facts.actionable:
        return ["evidence restricted to its owners"]
    att = repo.latest_attribution(conn, url_id)
    if att is None:
        if clock.now() - conf.recorded_at > ATTRIBUTION_GIVE_UP:
            audit.record(
                conn,
                clock,
                actor,
                f"{actor.source}:outcome:unattributed",
                object_kind="url",
                object_ids=[url_id],
                details={"reason": "no attribution found an address: nobody to notice"},
            )
            return ["no attribution"]
        raise NotReady("the URL has no attribution yet")
    live = repo.latest_capture(conn, url_id, live=True)
    if (
        live is not None
        and live.finished_at > att.observed_at
        and not repo.attributed(conn, int(live.id))
        and clock.now() - live.finished_at < ATTRIBUTION_PATIENCE
    ):
        # The crawler queued the attribution of its newest capture: notice the host it shows.
        raise NotReady("the newest capture is not attributed yet")
    evidence_capture = (
        int(live.id)
        if live is not None and (conf.capture_time is None or live.finished_at > conf.capture_time)
        else conf.capture_id
    )
    u = repo.url_row(conn, url_id)
    assert u is not None
    previous = _previous_chain(conn, url_id, u.registrable_domain, evidence_capture)
    now = clock.now()
    done: list[str] = []
    for rcpt in _recipients(conn, settings, att, facts.issuer_org_id):
        # Listed already (even in a notice declined or disputed, which the coordinator
        # handles): not again to the same party.
        listed = [
            i
            for i in repo.items_for_url(conn, url_id)
            if i.kind == rcpt.kind and i.state == "listed"
        ]
        if any(_same_recipient(conn, i.notice_id, rcpt) for i in listed):
            done.append(f"{rcpt.kind} {rcpt.name}: already listed")
            continue
        draft_id = _draft_for(conn, clock, actor, settings, rcpt, facts.issuer_org_id, att)
        prev_item = previous.get(rcpt.role if rcpt.role != "cdn" else "host")
        if prev_item is None and rcpt.role == "cdn":
            prev_item = previous.get("host")
        if prev_item is not None:
            repo.set_parent(conn, draft_id, int(prev_item.notice_id))
        cap = repo.capture_by_id(conn, evidence_capture) if evidence_capture else None
        repo.insert_item(
            conn,
            {
                "notice_id": draft_id,
                "url_id": url_id,
                "role": rcpt.role,
                "capture_id": evidence_capture,
                "captured_at": conf.capture_time if cap is None else cap.finished_at,
                "capture_sha256": None if cap is None else repo.capture_sha256(conn, cap),
                "classification": classification,
                "detection_method": detection_method(summary),
                "match": summary,
                "attribution_id": int(att.id),
                "provider": att.provider,
                "asn": att.asn,
                "country": att.origin_country or att.country,
                "reported_at": facts.reported_at or conf.confirmed_at,
                "added_at": now,
                "state": "listed",
                "previous_item_id": None if prev_item is None else int(prev_item.id),
                "xarf": {},
            },
        )
        done.append(f"{rcpt.kind} {rcpt.name}: listed in draft {draft_id}")
    audit.record(
        conn,
        clock,
        actor,
        f"{actor.source}:outcome:list",
        object_kind="url",
        object_ids=[url_id],
        details={"done": done},
    )
    return done


def _same_recipient(conn: Connection, notice_id: int, rcpt: Recipient) -> bool:
    n = notices.load(conn, notice_id)
    if n is None:
        return False
    if rcpt.org_id is not None:
        return n.recipient_org_id == rcpt.org_id
    return n.recipient_org_id is None and n.recipient_address == rcpt.address


def _previous_chain(
    conn: Connection, url_id: int, domain: str, capture_id: int | None
) -> dict[str, Any]:
    """The removed items a new listing of this URL follows, by role: the URL itself back, the
    same pictures elsewhere, or the same site (domain) on a new host."""
    found: dict[str, Any] = {}
    own = [i for i in repo.items_for_url(conn, url_id) if i.state in ("removed", "reappeared")]
    same_media: list[Any] = []
    if capture_id is not None:
        shas = [h["sha256"] for h in repo.media_hashes(conn, capture_id) if h["sha256"]]
        same_media = [i for i in repo.removed_items_with_media(conn, shas) if i.url_id != url_id]
    same_site = [i for i in repo.removed_items_on_domain(conn, domain) if i.url_id != url_id]
    for item in [*own, *same_media, *same_site]:
        role = "host" if item.role == "cdn" else item.role
        found.setdefault(role, item)
    return found


def _recipients(
    conn: Connection, settings: Settings, att: Any, issuer_org_id: int | None
) -> list[Recipient]:
    out: list[Recipient] = []
    if att.abuse_email:
        role = "cdn" if att.cdn else "host"
        org = repo.member_for_address(conn, att.abuse_email)
        out.append(
            Recipient(
                role,
                HOST_TAKEDOWN.name,
                org,
                None if org else att.abuse_email.lower(),
                att.provider or att.abuse_email,
            )
        )
    if settings.outcomes.registrar_notices and att.registrar_abuse_email:
        org = repo.member_for_address(conn, att.registrar_abuse_email)
        out.append(
            Recipient(
                "registrar",
                REGISTRAR_NOTICE.name,
                org,
                None if org else att.registrar_abuse_email.lower(),
                att.registrar or att.registrar_abuse_email,
            )
        )
    if settings.outcomes.referrals:
        for r in repo.routes_of(conn, int(att.id)):
            if r.org_type not in (OrgType.LAW_ENFORCEMENT.value, OrgType.HOTLINE.value):
                continue
            if r.org_id == issuer_org_id:
                continue  # the partner that reported it knows
            if any(x.org_id == r.org_id and x.kind == LE_REFERRAL.name for x in out):
                continue
            out.append(Recipient("referral", LE_REFERRAL.name, int(r.org_id), None, r.name))
    return out


def _draft_for(
    conn: Connection,
    clock: Clock,
    actor: audit.Actor,
    settings: Settings,
    rcpt: Recipient,
    issuer_org_id: int | None,
    att: Any,
) -> int:
    found = repo.open_draft(
        conn,
        rcpt.kind,
        recipient_org_id=rcpt.org_id,
        recipient_address=rcpt.address,
        issuer_org_id=issuer_org_id,
        max_items=settings.outcomes.max_urls_per_notice,
    )
    if found is not None:
        return int(found.id)
    kind = get_kind(rcpt.kind)
    escalate_to = [
        int(r.org_id)
        for r in repo.routes_of(conn, int(att.id))
        if r.org_type == OrgType.LAW_ENFORCEMENT.value
    ]
    made = notices.issue(
        conn,
        clock,
        actor,
        NoticePolicy.from_settings(settings),
        kind=kind,
        recipient_org_id=rcpt.org_id,
        recipient_address=rcpt.address,
        recipient_name=rcpt.name,
        subject_kind="batch",
        subject_id=repo.next_batch_number(conn, kind.name),
        title=f"{kind.name} to {rcpt.name} (draft)",
        body="",
        payload={"role": rcpt.role, "escalate_to": sorted(set(escalate_to)), "urls": []},
        issuer_org_id=issuer_org_id,
        draft=True,
    )
    due = clock.now() + timedelta(minutes=settings.outcomes.batch_window_minutes)
    work.enqueue(conn, clock.now(), SEND_STAGE, notices.KIND, [made.id], run_at=due, rearm=True)
    return made.id


# ------------------------------------------------------------------------------ sending


def _reporter(conn: Connection, settings: Settings, issuer_org_id: int | None) -> xarf.Party:
    name = settings.outcomes.reporter_org
    if issuer_org_id is not None:
        name = f"{repo.org_name(conn, issuer_org_id)} for the {name}"
    return xarf.Party(org=name, contact=settings.smtp.sender)


def send_batch(
    conn: Connection, clock: Clock, actor: audit.Actor, settings: Settings, notice_id: int
) -> str:
    """Compose a draft's final content (template text, evidence, one XARF report per URL)
    and send it. Idempotent: a notice no longer a draft is left alone."""
    n = notices.load(conn, notice_id)
    if n is None or n.state is not State.DRAFT:
        return "not a draft"
    items = repo.items_of(conn, notice_id)
    if not items:
        return "empty"
    now = clock.now()
    reporter = _reporter(conn, settings, n.issuer_org_id)
    role = str(n.payload.get("role") or "host")
    key = links.link_key(settings.key_dir)
    expires = now + timedelta(days=settings.outcomes.link_valid_days)
    base = notices.base_url(settings)
    view_link = links.link_url(base, links.make_token(key, n.id, links.VIEW, expires))
    entries: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for item in items:
        u = repo.url_row(conn, int(item.url_id))
        assert u is not None
        summary = dict(item.match or {})
        att = repo.latest_attribution(conn, int(item.url_id))
        hashes = _hash_values(conn, item.capture_id)
        report = xarf.build_report(
            report_uuid=xarf.report_id(n.id, int(item.url_id)),
            url=u.url,
            host=u.host,
            observed_at=item.captured_at or now,
            classification=item.classification,
            detection_method=item.detection_method,
            reporter=reporter,
            source_identifier=None if att is None else att.address,
            hash_values=hashes,
            matched_media=int(summary.get("matched_media") or 0),
            asn=item.asn,
            country=item.country,
            provider=item.provider,
            registrar=None if att is None else att.registrar,
            verified_at=item.captured_at,
        )
        repo.update_item(conn, int(item.id), xarf=report)
        reports.append(report)
        matches = [
            {k: m.get(k) for k in ("bank", "entry_id", "distance", "signal_type", "variant")}
            for m in summary.get("matches") or []
        ][:10]
        entries.append(
            {
                "item_id": int(item.id),
                "url": u.url,
                "host": u.host,
                "address": None if att is None else att.address,
                "captured_at": _iso(item.captured_at),
                "capture_sha256": item.capture_sha256,
                "classification": item.classification,
                "detection_method": item.detection_method,
                "matches": matches,
                "matched_media": int(summary.get("matched_media") or 0),
                "verify_link": f"{view_link}&item={int(item.id)}",
                "previous_item_id": item.previous_item_id,
                "report_id": report["report_id"],
            }
        )
    reason = _reason(entries)
    context = {
        "recipient": n.recipient_name or n.recipient_address or "partner",
        "role": role,
        "reason": reason,
        "reporter": reporter.org,
        "items": [
            {**e, "url": defang(e["url"]), "host": e["host"].replace(".", "[.]")} for e in entries
        ],
    }
    body = templates.render(
        n.kind, settings.outcomes.language, context, templates_dir=settings.outcomes.templates_dir
    )
    domains = sorted({e["host"] for e in entries})
    title = f"{len(entries)} confirmed URL(s) on {', '.join(domains[:3])}" + (
        f" and {len(domains) - 3} more" if len(domains) > 3 else ""
    )
    payload = {
        **n.payload,
        "urls": entries,
        "xarf": reports,
        "no_imagery": "No imagery is sent: the evidence is hashes, times and addresses.",
    }
    notices.send_draft(
        conn,
        clock,
        actor,
        NoticePolicy.from_settings(settings),
        notice_id,
        title=title,
        body=body,
        payload=payload,
    )
    repo.start_watch(conn, notice_id)
    due = now + timedelta(hours=settings.outcomes.verify_after_hours)
    plan_id = repo.plan_verification(conn, now, notice_id, due)
    work.enqueue(conn, now, VERIFY_STAGE, "verify_plan", [plan_id], run_at=due)
    return f"sent with {len(entries)} URL(s)"


def _hash_values(conn: Connection, capture_id: int | None) -> dict[str, str]:
    if capture_id is None:
        return {}
    media = repo.media_hashes(conn, capture_id)
    matched = repo.matched_media_ids(conn, capture_id)
    chosen = next((m for m in media if m["media_sighting_id"] in matched), None)
    chosen = chosen or (media[0] if media else None)
    if chosen is None:
        return {}
    return {k: str(chosen[k]) for k in ("sha256", "md5", "pdq") if chosen.get(k)}


def _reason(entries: list[dict[str, Any]]) -> str:
    methods = Counter(e["detection_method"] for e in entries)
    parts = []
    if methods.get("hash_match"):
        parts.append(f"{methods['hash_match']} by matching pictures against shared hash lists")
    if methods.get("manual_review"):
        parts.append(f"{methods['manual_review']} by analysts' assessment")
    return "; ".join(parts)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
