"""Taking one capture of one URL: the page, its cloaking probes, its pictures, its evidence.

:func:`take_capture` does the network work and the hashing and returns a
:class:`CaptureResult` that holds no media bytes (pictures are hashed and dropped as they
arrive); :func:`cordon.crawl.repo.store_capture` stores it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import anyio

from cordon.clock import Clock
from cordon.config import Settings
from cordon.crawl.evidence import WARC_FORMAT, PageRecord, build_warc
from cordon.crawl.extract import (
    AnalyticsPattern,
    Indicator,
    MediaRef,
    PageExtract,
    analytics_patterns,
    extract_page,
    media_key,
    parse_data_uri,
    redact_inline_media,
    sniff_type,
)
from cordon.crawl.fetcher import FETCHER_VERSION, Fetcher, FetchResult, FetchSession
from cordon.crawl.media import MediaOutcome, hash_into
from cordon.domain.payments import DEFAULT_CHECKOUT_REGISTRY, CheckoutRegistry

TEXT_TYPES: Final = ("text/html", "application/xhtml+xml", "text/plain")
MEDIA_PER_CAPTURE_IN_FLIGHT: Final = 6
_CHARSET_RE: Final = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)


def hash_threads() -> anyio.CapacityLimiter:
    """A limiter for hashing threads (decoding and PDQ release the interpreter lock): one per
    core. Make one per event loop and share it between captures."""
    return anyio.CapacityLimiter(max(1, os.cpu_count() or 1))


@dataclass(frozen=True)
class CapturePlan:
    """What to capture and why."""

    url_id: int
    url: str
    reason: str
    referrers: tuple[str, ...] = ()


@dataclass
class PageVersion:
    """One fetch of the page: ``base``, or a cloaking probe (``agent``, ``referrer``)."""

    name: str
    fetch: FetchResult
    request_headers: list[tuple[str, str]]
    extract: PageExtract | None = None
    text: bytes | None = None


@dataclass
class CaptureResult:
    """A capture, ready to be stored. Holds hashes and text, never picture bytes."""

    plan: CapturePlan
    started_at: datetime
    finished_at: datetime
    outcome: str
    outcome_reason: str | None
    gone_reason: str | None
    base: FetchResult
    versions: list[PageVersion]
    resolved: dict[str, list[str]]
    resolver: str
    egress_profile: str | None
    egress_proxy: str | None
    media: list[MediaOutcome] = field(default_factory=list)
    indicators: list[tuple[Indicator, list[str]]] = field(default_factory=list)
    cloaking: bool = False
    cloaking_detail: list[dict[str, Any]] = field(default_factory=list)
    template_fingerprint: str | None = None
    page_sha256: bytes | None = None
    page_bytes: int | None = None
    links: list[str] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    evidence: bytes = b""
    evidence_records: int = 0

    @property
    def evidence_sha256(self) -> bytes:
        return hashlib.sha256(self.evidence).digest()

    def summary(self) -> dict[str, Any]:
        """The capture's facts as the evidence's metadata record carries them."""
        return {
            "url_id": self.plan.url_id,
            "reason": self.plan.reason,
            "requested_url": self.plan.url,
            "final_url": self.base.final_url,
            "outcome": self.outcome,
            "outcome_reason": self.outcome_reason,
            "status": self.base.status,
            "http_version": self.base.http_version,
            "connected_address": self.base.address,
            "connected_port": self.base.port,
            "redirects": [h.as_dict() for h in self.base.hops],
            "resolved": self.resolved,
            "resolver": self.resolver,
            "egress_profile": self.egress_profile,
            "egress_proxy": self.egress_proxy,
            "tls": self.base.tls.as_dict() if self.base.tls else None,
            "timings": self.base.timings,
            "budget": self.breaches,
            "cloaking": self.cloaking,
            "cloaking_detail": self.cloaking_detail,
            "page_sha256": self.page_sha256.hex() if self.page_sha256 else None,
            "template_fingerprint": self.template_fingerprint,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "fetcher_version": FETCHER_VERSION,
        }


@dataclass(frozen=True)
class CaptureOptions:
    """What a crawler was configured to do beyond fetching."""

    user_agents: tuple[str, ...]
    probes: bool
    gone_statuses: frozenset[int]
    registry: CheckoutRegistry
    patterns: tuple[AnalyticsPattern, ...]
    max_image_pixels: int
    max_media: int
    trim_borders: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> CaptureOptions:
        crawl = settings.crawl
        registry = DEFAULT_CHECKOUT_REGISTRY.extended_from_data(
            settings.payments.checkout_providers
        )
        return cls(
            user_agents=tuple(crawl.user_agents),
            probes=crawl.cloaking_probes,
            gone_statuses=frozenset(crawl.gone_statuses),
            registry=registry,
            patterns=analytics_patterns(crawl.analytics_patterns),
            max_image_pixels=crawl.max_image_pixels,
            max_media=crawl.max_media_per_page,
            trim_borders=crawl.trim_borders,
        )


def _is_text(fetch: FetchResult) -> bool:
    content_type = (fetch.header("content-type") or "").split(";")[0].strip().lower()
    if content_type in TEXT_TYPES:
        return True
    if not content_type:
        return sniff_type(fetch.body) in ("html", "unknown") and b"\x00" not in fetch.body[:1024]
    return False


def _decode_text(fetch: FetchResult) -> str:
    content_type = fetch.header("content-type") or ""
    charset = None
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip("\"' ")
    if charset is None:
        found = _CHARSET_RE.search(fetch.body[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return fetch.body.decode(charset, "replace")
    except LookupError:
        return fetch.body.decode("utf-8", "replace")


def _same_page(probe: FetchResult, base: FetchResult) -> bool:
    """True when ``probe`` would read exactly as ``base`` does (same final URL, content type
    and body), so that the base's reading can stand for it."""
    return (
        probe.outcome == base.outcome == "ok"
        and probe.breach is None
        and base.breach is None
        and probe.final_url == base.final_url
        and probe.header("content-type") == base.header("content-type")
        and probe.body == base.body
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


async def _fetch_version(
    session: FetchSession,
    name: str,
    url: str,
    user_agent: str,
    headers: dict[str, str],
) -> PageVersion:
    fetch = await session.fetch(url, kind="page", headers=headers, user_agent=user_agent)
    sent = [("User-Agent", user_agent), *headers.items()]
    return PageVersion(name, fetch, sent)


def _read_page(version: PageVersion, options: CaptureOptions) -> None:
    fetch = version.fetch
    if fetch.outcome != "ok" or not fetch.body or not _is_text(fetch):
        return
    text = _decode_text(fetch)
    version.extract = extract_page(
        text,
        fetch.final_url or fetch.requested_url,
        registry=options.registry,
        patterns=options.patterns,
    )
    redacted, _ = redact_inline_media(text)
    version.text = redacted.encode("utf-8")


async def _hash_ref(
    session: FetchSession,
    ref: MediaRef,
    referer: str,
    options: CaptureOptions,
    outcome: MediaOutcome,
    threads: anyio.CapacityLimiter,
) -> None:
    if ref.url.startswith("data:"):
        parsed = parse_data_uri(ref.url)
        if parsed is None:
            outcome.status, outcome.reason = "failed", "the data: URI does not decode"
            return
        outcome.declared_type = parsed.media_type
        data = parsed.data
        del parsed
        outcome.url = f"data:{outcome.declared_type};sha256={hashlib.sha256(data).hexdigest()}"
        await anyio.to_thread.run_sync(
            hash_into,
            outcome,
            data,
            options.max_image_pixels,
            options.trim_borders,
            limiter=threads,
        )
        return
    fetch = await session.fetch(ref.url, kind="media", headers={"Referer": referer})
    outcome.http_status = fetch.status
    outcome.fetched_address = fetch.address
    outcome.declared_type = (fetch.header("content-type") or "").split(";")[0].strip() or None
    if fetch.breach is not None:
        outcome.status, outcome.reason = "budget", fetch.breach.reason
        outcome.breach = fetch.breach.as_dict()
        return
    if fetch.outcome != "ok":
        outcome.status = "refused" if fetch.outcome == "blocked" else "failed"
        outcome.reason = fetch.reason
        return
    if fetch.status != 200:
        outcome.status, outcome.reason = "failed", f"HTTP {fetch.status}"
        return
    data = fetch.body
    fetch.body = b""
    await anyio.to_thread.run_sync(
        hash_into, outcome, data, options.max_image_pixels, options.trim_borders, limiter=threads
    )


async def take_capture(
    fetcher: Fetcher,
    plan: CapturePlan,
    clock: Clock,
    options: CaptureOptions,
    *,
    threads: anyio.CapacityLimiter | None = None,
) -> CaptureResult:
    """Capture ``plan.url``: fetch the page (and its cloaking probes), hash its pictures in
    memory, read its indicators and build its evidence. Never raises for what the remote side
    does."""
    started = clock.now()
    threads = threads or hash_threads()
    agents = options.user_agents
    async with fetcher.session() as session:
        base = await _fetch_version(session, "base", plan.url, agents[0], {})
        versions = [base]
        _read_page(base, options)
        fetch = base.fetch
        if fetch.outcome == "ok" and fetch.status in options.gone_statuses:
            outcome, gone_reason = "gone", f"http_{fetch.status}"
            reason: str | None = f"HTTP {fetch.status}"
        elif fetch.outcome == "ok" and fetch.status is not None and fetch.status < 400:
            outcome, gone_reason, reason = "live", None, None
        elif fetch.outcome == "ok":
            outcome, gone_reason, reason = "failed", None, f"HTTP {fetch.status}"
        elif fetch.outcome == "gone":
            outcome, gone_reason, reason = "gone", fetch.gone_reason, fetch.reason
        else:
            outcome, gone_reason, reason = fetch.outcome, None, fetch.reason
        final = fetch.final_url or plan.url
        if options.probes and base.extract is not None and outcome == "live":
            referrer = plan.referrers[0] if plan.referrers else _origin(final)
            probes: list[PageVersion] = []

            async def probe(name: str, agent: str, headers: dict[str, str]) -> None:
                found = await _fetch_version(session, name, final, agent, headers)
                if _same_page(found.fetch, fetch):
                    # The same bytes from the same URL read the same: most pages show every
                    # visitor the same thing, and parsing is the costliest part of a fetch.
                    found.extract, found.text = base.extract, base.text
                else:
                    _read_page(found, options)
                probes.append(found)

            async with anyio.create_task_group() as group:
                if len(agents) > 1:
                    group.start_soon(probe, "agent", agents[1], {})
                group.start_soon(probe, "referrer", agents[0], {"Referer": referrer})
            versions.extend(sorted(probes, key=lambda v: v.name))
        result = CaptureResult(
            plan=plan,
            started_at=started,
            finished_at=started,
            outcome=outcome,
            outcome_reason=reason,
            gone_reason=gone_reason,
            base=fetch,
            versions=versions,
            resolved=session.resolved,
            resolver=fetcher.resolver.description,
            egress_profile=fetcher.config.proxy.profile if fetcher.config.proxy else None,
            egress_proxy=fetcher.config.proxy.display if fetcher.config.proxy else None,
        )
        if fetch.body:
            result.page_sha256 = hashlib.sha256(fetch.body).digest()
            result.page_bytes = len(fetch.body)
        if base.extract is not None:
            result.template_fingerprint = base.extract.template_fingerprint
            result.links = base.extract.links
        _compare(result, options)
        await _hash_media(session, result, options, final, threads)
    for version in versions:
        if version.fetch.breach is not None:
            result.breaches.append({**version.fetch.breach.as_dict(), "fetch": version.name})
        version.fetch.body = b""
    for item in result.media:
        if item.breach is not None:
            result.breaches.append({**item.breach, "fetch": "media"})
    result.finished_at = clock.now()
    _build_evidence(result)
    return result


def _compare(result: CaptureResult, options: CaptureOptions) -> None:
    """Indicators of every version, and cloaking where a probe saw other payments or media."""
    extracts = [(v.name, v.extract) for v in result.versions if v.extract is not None]
    merged: dict[tuple[str, str], tuple[Indicator, list[str]]] = {}
    for name, extract in extracts:
        for indicator in extract.indicators:
            ident = (indicator.kind, indicator.key)
            if ident in merged:
                merged[ident][1].append(name)
            else:
                merged[ident] = (indicator, [name])
    result.indicators = list(merged.values())
    if not extracts or extracts[0][0] != "base":
        return
    base = extracts[0][1]
    for name, extract in extracts[1:]:
        diff: dict[str, Any] = {}
        pay_base, pay_probe = base.payment_keys(), extract.payment_keys()
        if pay_base != pay_probe:
            diff["payments_only_in_probe"] = sorted(pay_probe - pay_base)
            diff["payments_only_in_base"] = sorted(pay_base - pay_probe)
        media_base, media_probe = base.media_urls(), extract.media_urls()
        if media_base != media_probe:
            diff["media_only_in_probe"] = sorted(media_probe - media_base)[:50]
            diff["media_only_in_base"] = sorted(media_base - media_probe)[:50]
        if diff:
            version = next(v for v in result.versions if v.name == name)
            headers = dict(version.request_headers)
            result.cloaking = True
            result.cloaking_detail.append(
                {
                    "probe": name,
                    "user_agent": headers.get("User-Agent"),
                    "referrer": headers.get("Referer"),
                    **diff,
                }
            )


async def _hash_media(
    session: FetchSession,
    result: CaptureResult,
    options: CaptureOptions,
    referer: str,
    threads: anyio.CapacityLimiter,
) -> None:
    refs: dict[str, tuple[MediaRef, list[str]]] = {}
    for version in result.versions:
        if version.extract is None:
            continue
        for ref in version.extract.media:
            key = media_key(ref.url)
            if key in refs:
                if version.name not in refs[key][1]:
                    refs[key][1].append(version.name)
            else:
                refs[key] = (ref, [version.name])
    base = result.versions[0]
    if (
        base.extract is None
        and base.fetch.outcome == "ok"
        and base.fetch.body
        and not _is_text(base.fetch)
    ):
        # The URL itself is a picture (or another non-text body): hash it, keep nothing else.
        outcome = MediaOutcome(url=base.fetch.final_url or result.plan.url, embed="page")
        outcome.http_status = base.fetch.status
        outcome.fetched_address = base.fetch.address
        outcome.declared_type = (base.fetch.header("content-type") or "").split(";")[0] or None
        outcome.variants_seen = ["base"]
        data = base.fetch.body
        base.fetch.body = b""
        await anyio.to_thread.run_sync(
            hash_into,
            outcome,
            data,
            options.max_image_pixels,
            options.trim_borders,
            limiter=threads,
        )
        del data
        result.media.append(outcome)
        return
    chosen = list(refs.values())
    outcomes: list[MediaOutcome] = []
    for ref, seen in chosen:
        outcome = MediaOutcome(
            url=ref.url if not ref.url.startswith("data:") else "data:", embed=ref.embed
        )
        outcome.variants_seen = seen
        outcomes.append(outcome)
    limit = anyio.Semaphore(MEDIA_PER_CAPTURE_IN_FLIGHT)

    async def one(ref: MediaRef, outcome: MediaOutcome) -> None:
        async with limit:
            await _hash_ref(session, ref, referer, options, outcome, threads)

    async with anyio.create_task_group() as group:
        for index, ((ref, _), outcome) in enumerate(zip(chosen, outcomes, strict=True)):
            if index >= options.max_media:
                outcome.status = "skipped"
                outcome.reason = f"more than {options.max_media} pictures on the page"
                continue
            group.start_soon(one, ref, outcome)
    result.media = outcomes


def _build_evidence(result: CaptureResult) -> None:
    pages = []
    for version in result.versions:
        fetch = version.fetch
        pages.append(
            PageRecord(
                name=version.name,
                url=fetch.final_url or fetch.requested_url,
                request_headers=version.request_headers,
                status=fetch.status,
                reason="",
                protocol=fetch.http_version or "HTTP/1.1",
                headers=fetch.headers,
                text=version.text,
            )
        )
    info = {
        "software": FETCHER_VERSION,
        "format": "WARC File Format 1.1",
        "resolver": result.resolver,
        "egress-profile": result.egress_profile or "direct",
        "capture-started": result.started_at.isoformat(),
        "capture-finished": result.finished_at.isoformat(),
        "note": "picture bodies are not stored; their records carry hashes only",
    }
    result.evidence, result.evidence_records = build_warc(
        at=result.started_at,
        info=info,
        pages=pages,
        media=[m.hashes() for m in result.media],
        capture=result.summary(),
    )


__all__ = [
    "WARC_FORMAT",
    "CaptureOptions",
    "CapturePlan",
    "CaptureResult",
    "PageVersion",
    "take_capture",
]
