"""Settings, in layers: defaults < one TOML file < ``CORDON_*`` environment variables.

A configuration file is data and is never executed. Secrets never live here: they live in the key
directory (``cordon keys init``) and settings only say where that directory is.

Environment variables: a top-level setting ``database_url`` is ``CORDON_DATABASE_URL``; a setting
in a section, such as ``smtp.port``, is ``CORDON_SMTP__PORT``. Lists in the environment are
comma-separated.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(Exception):
    """The configuration is invalid; the message names the setting and the source."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ApiSettings(_Section):
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body the API accepts, in bytes."
    )
    max_report_urls: int = Field(
        10_000, ge=1, description="Most URLs one report request or import batch may carry."
    )
    session_max_age_seconds: int = Field(
        8 * 3600, ge=60, description="Lifetime of a console login session."
    )
    secure_cookies: bool = Field(
        True, description="Mark session cookies Secure (turn off only for plain-HTTP loopback)."
    )
    login_max_failures_per_account: int = Field(
        5,
        ge=1,
        description="Refused console logins to one e-mail address within "
        "`api.login_lockout_seconds` that lock that account's login for the rest of the window.",
    )
    login_max_failures_per_address: int = Field(
        20,
        ge=1,
        description="Refused console logins from one client address within "
        "`api.login_lockout_seconds` that lock logins from that address for the rest of the "
        "window.",
    )
    login_lockout_seconds: int = Field(
        900,
        ge=1,
        description="The window in which refused console logins are counted, and so the "
        "longest a lockout lasts.",
    )


class ServeSettings(_Section):
    host: str = Field("127.0.0.1", description="Address `cordon serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `cordon serve` listens on.")
    run_stages: bool = Field(
        True, description="Run the pipeline stages in-process beside the API (embedded default)."
    )


class ClockSettings(_Section):
    mode: Literal["system", "accelerated"] = Field(
        "system", description="`system` for wall-clock time, `accelerated` for the demo."
    )
    speed: float = Field(1.0, gt=0, description="How many times faster an accelerated clock runs.")
    start: datetime | None = Field(
        None, description="Where an accelerated clock starts (ISO 8601, UTC); default: now."
    )


class PipelineSettings(_Section):
    lease_seconds: int = Field(
        300, ge=1, description="How long a claimed work item stays leased before others retake it."
    )
    batch_size: int = Field(50, ge=1, description="Work items a stage claims at once.")
    max_attempts: int = Field(
        8, ge=1, description="Attempts before a work item is moved to the dead-letter state."
    )
    backoff_seconds: float = Field(
        30.0, ge=0, description="First retry delay; doubles with each failed attempt."
    )
    backoff_max_seconds: float = Field(6 * 3600.0, ge=0, description="Longest retry delay.")
    poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle worker looks for new work (wall-clock seconds)."
    )


class DnsSettings(_Section):
    resolvers: list[str] = Field(
        default_factory=list,
        description="Resolvers as `host` or `host:port`; empty means the system resolver.",
    )
    timeout_seconds: float = Field(5.0, gt=0, description="Time allowed for one DNS query.")
    cache_max_seconds: int = Field(
        3600,
        ge=0,
        description="Longest time a DNS answer is reused, whatever its TTL says (0: no cache).",
    )
    negative_cache_seconds: int = Field(
        300,
        ge=0,
        description="Longest time a name that does not exist (or has no such record) is "
        "remembered as such.",
    )


class IpdbSettings(_Section):
    asn_database: Path | None = Field(
        None, description="MaxMind-format ASN database (GeoLite2-ASN or compatible)."
    )
    country_database: Path | None = Field(
        None, description="MaxMind-format country database (GeoLite2-Country or compatible)."
    )
    max_age_days: int = Field(
        45,
        ge=1,
        description="`cordon doctor` reports a database built longer ago than this as out of date.",
    )


class RdapSettings(_Section):
    bootstrap_dir: Path | None = Field(
        None,
        description="Folder holding RFC 9224 bootstrap files (dns.json, ipv4.json, ipv6.json, "
        "asn.json), as published by IANA; without it RDAP lookups are recorded as failed "
        "(`cordon doctor` says so).",
    )
    cache_seconds: int = Field(86_400, ge=0, description="How long an RDAP answer is reused.")
    timeout_seconds: float = Field(10.0, gt=0, description="Time allowed for one RDAP request.")
    rate_limit: str = Field(
        "5 per 1 second",
        description="Most requests sent to one RDAP server, as `N per [M] second|minute|hour`.",
    )
    max_response_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest RDAP answer read; a bigger one is a failure."
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        import re

        if not re.fullmatch(
            r"\s*[1-9][0-9]*\s+per\s+([1-9][0-9]*\s+)?(second|minute|hour)s?\s*", value
        ):
            raise ValueError(f"{value!r} is not a rate such as '5 per 1 second'")
        return value


class AttributionSettings(_Section):
    cdn_files: list[Path] = Field(
        default_factory=list,
        description="CDN data files (the format of Cordon's own cdn.json) read after the "
        "shipped one, for networks it does not know.",
    )


class SmtpSettings(_Section):
    host: str | None = Field(None, description="SMTP server for notices; empty disables e-mail.")
    port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS.")
    username: str | None = Field(None, description="SMTP login; the password is in the key dir.")
    sender: str = Field("cordon@cordon.example", description="From address of notices.")
    timeout_seconds: float = Field(20.0, gt=0, description="Time allowed for one SMTP session.")


class NoticeSettings(_Section):
    repeat_hours: float = Field(
        24.0, gt=0, description="How long an unanswered notice waits before it is sent again."
    )
    escalate_after: int = Field(
        3, ge=1, description="Unanswered repeats after which a notice escalates to the coordinator."
    )
    review_hold_hours: float = Field(
        168.0, gt=0, description="How long an 'under review' answer holds repeats back."
    )
    delivery_attempts: int = Field(
        8, ge=1, description="Attempts to deliver one round on one channel before giving up."
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Time allowed for one webhook delivery."
    )
    webhook_allow_networks: list[str] = Field(
        default_factory=list,
        description="Address ranges webhooks may be sent to that the address policy denies by "
        "default (as crawl.allow_networks); plain http is allowed only inside them.",
    )


class OutcomeSettings(_Section):
    batch_window_minutes: float = Field(
        60.0,
        ge=0,
        description="Confirmed URLs for one recipient within this window go out as one notice.",
    )
    max_urls_per_notice: int = Field(
        100, ge=1, le=150, description="Most URLs one takedown notice lists."
    )
    language: str = Field("en", description="Language of notice e-mails (templates per language).")
    templates_dir: Path | None = Field(
        None,
        description="Folder of notice templates (`<language>/<kind>.txt.j2`) read before the "
        "shipped ones.",
    )
    public_base_url: str | None = Field(
        None,
        description="Address partners reach Cordon's API at, for signed links in e-mails; "
        "empty: http://serve.host:serve.port.",
    )
    link_valid_days: float = Field(
        30.0, gt=0, description="How long a signed answer or verification link stays valid."
    )
    reporter_org: str = Field(
        "Cordon coalition", description="The organisation named as reporter in XARF reports."
    )
    registrar_notices: bool = Field(True, description="Notice registrars of confirmed domains.")
    referrals: bool = Field(
        True, description="Refer confirmed URLs to the partners of the hosting country."
    )
    verify_after_hours: float = Field(
        24.0,
        gt=0,
        description="After a notice is sent, when its URLs are re-crawled if nobody answered.",
    )
    verify_interval_hours: float = Field(
        24.0, gt=0, description="How often an unverified notice's URLs are re-crawled."
    )
    verify_recheck_minutes: float = Field(
        30.0, gt=0, description="Wait after a verification crawl is asked for before looking."
    )
    watch_days: float = Field(
        30.0, ge=0, description="How long removed URLs are watched for reappearance."
    )
    removal_statuses: list[int] = Field(
        default_factory=lambda: [451],
        description="HTTP statuses that count as removal besides crawl's gone statuses.",
    )
    assessments_to_seed: int = Field(
        2, ge=1, description="Assessments needed before a page's hashes may seed a bank."
    )
    seed_same_org: bool = Field(
        False, description="Whether assessments by one organisation count towards seeding."
    )
    blocklist_domain_min_urls: int = Field(
        2, ge=1, description="Confirmed URLs a dedicated domain needs to be listed whole."
    )


class MoneySettings(_Section):
    descriptor_threshold: float = Field(
        90.0, ge=0, le=100, description="Score (0-100) at which merchant descriptors are linked."
    )


class CrawlSettings(_Section):
    ca_files: list[Path] = Field(
        default_factory=list,
        description="Extra CA certificates (PEM) trusted beside the system store.",
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="Address ranges opened for crawling that the safety policy denies by default "
        "(the synthetic world's blocks). Never 127.0.0.0/16.",
    )
    extra_ports: list[int] = Field(
        default_factory=list, description="Ports allowed besides 80 and 443."
    )
    user_agents: list[str] = Field(
        default_factory=lambda: [
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        ],
        min_length=1,
        description="User-Agent headers: the first for every fetch, the second for the cloaking "
        "probe that compares what another browser is shown.",
    )
    concurrency: int = Field(
        16, ge=1, le=1024, description="Captures in flight at once in one crawler process."
    )
    host_concurrency: int = Field(
        2, ge=1, le=64, description="Requests in flight at once to one host name."
    )
    host_delay_seconds: float = Field(
        0.0, ge=0, description="Pause between the start of two requests to one host name."
    )
    max_redirects: int = Field(
        10, ge=0, le=10, description="Redirects followed per fetch, each hop checked anew."
    )
    page_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Largest page body read (after decompression)."
    )
    media_max_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest picture body read (after decompression)."
    )
    max_media_per_page: int = Field(
        200, ge=0, description="Most pictures fetched and hashed for one capture."
    )
    total_seconds: float = Field(
        30.0, gt=0, description="Time allowed for one fetch, redirects and body included."
    )
    connect_seconds: float = Field(
        10.0, gt=0, description="Time allowed to open a connection (and TLS) to one address."
    )
    first_byte_seconds: float = Field(
        15.0, gt=0, description="Time allowed from sending a request to its response headers."
    )
    idle_seconds: float = Field(
        10.0, gt=0, description="Longest pause between two parts of a response body."
    )
    min_bytes_per_second: float = Field(
        2048.0,
        ge=0,
        description="Slowest body transfer tolerated once `slow_grace_seconds` have passed (a "
        "slow drip).",
    )
    slow_grace_seconds: float = Field(
        3.0, ge=0, description="How long a body may arrive slowly before the rate is checked."
    )
    max_decompression_ratio: float = Field(
        200.0,
        ge=1,
        description="Largest ratio of decompressed to compressed body size (gzip, deflate, "
        "brotli) once the body passes 1 MiB.",
    )
    max_image_pixels: int = Field(
        50_000_000, ge=1, description="Largest picture decoded, in pixels (width × height)."
    )
    http2: bool = Field(True, description="Offer HTTP/2 over TLS (ALPN); HTTP/1.1 otherwise.")
    trim_borders: bool = Field(
        True,
        description="Also hash each picture without its uniform borders, so that bordered "
        "copies can match (costs time on large pictures).",
    )
    egress_profiles: list[str] = Field(
        default_factory=list,
        description="Outbound proxies as `NAME=URL` (http://, socks5:// URLs), e.g. one per "
        "country; every capture records the profile it went through.",
    )
    egress_profile: str | None = Field(
        None, description="The profile of `egress_profiles` crawls go through; empty: direct."
    )
    recrawl_live_hours: float = Field(
        24.0, gt=0, description="How long after a capture of a live URL it is crawled again."
    )
    recrawl_gone_hours: float = Field(
        168.0, gt=0, description="How long after a URL was found gone it is looked at again."
    )
    recrawl_failed_hours: float = Field(
        6.0, gt=0, description="How long after a failed or refused fetch it is tried again."
    )
    gone_statuses: list[int] = Field(
        default_factory=lambda: [404, 410],
        description="HTTP statuses that mean a URL is gone (as do NXDOMAIN and a refused "
        "connection).",
    )
    cloaking_probes: bool = Field(
        True,
        description="Fetch each page again with a referrer and with the second user agent and "
        "record any difference in payment details or pictures as cloaking.",
    )
    follow_links: Literal["none", "same_site", "outbound", "all"] = Field(
        "none",
        description="Which links of a captured page are queued for crawling: none, links on the "
        "same registrable domain, links to other domains, or all.",
    )
    follow_depth: int = Field(
        1, ge=0, le=5, description="How many links away from a reported URL links are followed."
    )
    follow_max_links: int = Field(
        50, ge=0, description="Most links of one page queued for crawling."
    )
    analytics_patterns: list[str] = Field(
        default_factory=list,
        description="Extra analytics or tag id patterns as `NAME=REGEX` (one capture group, or "
        "the whole match, is the id) beside the built-in ones.",
    )

    @field_validator("egress_profiles")
    @classmethod
    def _profiles(cls, value: list[str]) -> list[str]:
        from urllib.parse import urlsplit

        for item in value:
            name, sep, url = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"{item!r} is not NAME=URL")
            scheme = urlsplit(url.strip()).scheme.lower()
            if scheme not in ("http", "socks5"):
                raise ValueError(f"egress profile {name!r}: use an http:// or socks5:// proxy URL")
        return value

    @field_validator("analytics_patterns")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        import re

        for item in value:
            name, sep, pattern = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"{item!r} is not NAME=REGEX")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"analytics pattern {name!r} is not a regex: {exc}") from None
        return value

    @field_validator("allow_networks")
    @classmethod
    def _no_cordon_loopback(cls, value: list[str]) -> list[str]:
        import ipaddress

        protected = ipaddress.ip_network("127.0.0.0/16")
        for item in value:
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an address range") from exc
            if isinstance(net, ipaddress.IPv4Network) and net.overlaps(protected):
                raise ValueError(
                    f"{item} overlaps 127.0.0.0/16, where Cordon and its database listen"
                )
        return value


class PaymentsSettings(_Section):
    checkout_providers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Payment-service checkout link patterns beside the built-in ones, as data: "
        "tables with name, hosts, path or query, account_pattern, account_case "
        "(docs/payment-identifiers.md). In the environment: a JSON list.",
    )

    @field_validator("checkout_providers")
    @classmethod
    def _valid_specs(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from cordon.domain.payments import provider_from_mapping

        for spec in value:
            provider_from_mapping(spec)  # raises naming the provider and key
        return value


class MatchingSettings(_Section):
    snapshot_dir: Path | None = Field(
        None,
        description="Folder where each matcher process keeps its index snapshot (Cordon's own "
        "index format, with its bank_change checkpoint); empty: rebuilt from the database at "
        "start.",
    )
    snapshot_seconds: float = Field(
        600.0,
        ge=0,
        description="Least time between two snapshots a matcher writes after refreshing.",
    )
    refetch_reference: bool = Field(
        True,
        description="Fetch a matched picture again to compute its reference PDQ hash before "
        "confirming its URL.",
    )
    retro_chunk: int = Field(
        5000, ge=1, description="Sightings scanned at a time by retroactive matching."
    )
    flood_min_matches: int = Field(
        50,
        ge=1,
        description="Flood guard: an entry floods only with more matches than this in one window "
        "(docs/matching.md).",
    )
    flood_window_hours: float = Field(
        1.0, gt=0, description="Flood guard: the window in which new matches are counted."
    )
    flood_history_days: float = Field(
        30.0,
        gt=0,
        description="Flood guard: the trailing history before the window that gives an entry's "
        "usual rate.",
    )
    flood_factor: float = Field(
        10.0,
        ge=1,
        description="Flood guard: an entry floods only with more matches in the window than this "
        "many times its usual rate (its matches in the history, scaled to the window).",
    )


class GraphSettings(_Section):
    recompute_minutes: float = Field(
        10.0,
        gt=0,
        description="How often the `graph` stage ingests new records and recomputes networks.",
    )
    ingest_batch: int = Field(
        500, ge=1, description="Records of one source the graph ingest reads per transaction."
    )
    medium_max_sites: int = Field(
        20,
        ge=2,
        description="A picture or template seen on more sites than this is not counted as a "
        "link between them.",
    )
    medium_threshold: float | None = Field(
        None,
        gt=0,
        description="Weight of shared pictures and templates that links two sites on its own "
        "(e.g. 1.0: three shared); empty: they corroborate but never link (docs/networks.md).",
    )


class Settings(BaseModel):
    """Every setting Cordon reads. See docs/configuration.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = Field(
        "sqlite:///./cordon.db",
        description="SQLAlchemy URL: `sqlite:///PATH` or `postgresql+psycopg://USER@HOST/DB`.",
    )
    key_dir: Path = Field(
        Path("./keys"), description="Folder of secrets and signing keys (`cordon keys init`)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )
    plugins: list[str] = Field(
        default_factory=list,
        description="Python modules to load as plugins (stages and other hooks).",
    )
    api: ApiSettings = Field(default_factory=ApiSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    dns: DnsSettings = Field(default_factory=DnsSettings)
    ipdb: IpdbSettings = Field(default_factory=IpdbSettings)
    rdap: RdapSettings = Field(default_factory=RdapSettings)
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    notices: NoticeSettings = Field(default_factory=NoticeSettings)
    money: MoneySettings = Field(default_factory=MoneySettings)
    outcomes: OutcomeSettings = Field(default_factory=OutcomeSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)


ENV_PREFIX = "CORDON_"

#: Environment variables that are not settings but options of commands or of the test suite.
NON_SETTING_VARIABLES = frozenset(
    {
        "CORDON_CONFIG",  # the configuration file
        "CORDON_USER",  # `--as` of commands that act as a user
        "CORDON_PASSWORD",  # password for `cordon user create|password`
        "CORDON_CONFORMANCE_DIR",  # where tests find the published conformance data
    }
)


def iter_setting_names() -> Iterator[tuple[str, str, str]]:
    """Yield ``(dotted name, environment variable, description)`` for every setting."""
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Section):
            for sub, subfield in annotation.model_fields.items():
                yield (
                    f"{name}.{sub}",
                    f"{ENV_PREFIX}{name.upper()}__{sub.upper()}",
                    subfield.description or "",
                )
        else:
            yield name, f"{ENV_PREFIX}{name.upper()}", field.description or ""


def _is_list_field(dotted: str) -> bool:
    section, _, sub = dotted.partition(".")
    field = Settings.model_fields[section]
    if sub:
        annotation = field.annotation
        assert isinstance(annotation, type)
        assert issubclass(annotation, BaseModel)
        field = annotation.model_fields[sub]
    return getattr(field.annotation, "__origin__", None) is list


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    known = {env: dotted for dotted, env, _ in iter_setting_names()}
    layer: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX) or key in NON_SETTING_VARIABLES:
            continue
        if key not in known:
            if key.startswith("CORDON_TEST_"):
                continue
            raise ConfigError(f"unknown setting in environment: {key}")
        dotted = known[key]
        parsed: Any = value
        if _is_list_field(dotted):
            if value.lstrip().startswith("["):
                try:
                    parsed = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{key} is not a JSON list: {exc}") from None
            else:
                parsed = [part.strip() for part in value.split(",") if part.strip()]
        section, _, sub = dotted.partition(".")
        if sub:
            layer.setdefault(section, {})[sub] = parsed
        else:
            layer[section] = parsed
    return layer


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Relative paths in a config file are relative to the file, not to the working directory."""
    out = dict(data)
    if isinstance(out.get("key_dir"), str):
        out["key_dir"] = str(base / out["key_dir"])
    for section, keys in (
        ("ipdb", ("asn_database", "country_database")),
        ("rdap", ("bootstrap_dir",)),
    ):
        sec = out.get(section)
        if isinstance(sec, dict):
            sec = dict(sec)
            for key in keys:
                if isinstance(sec.get(key), str):
                    sec[key] = str(base / sec[key])
            out[section] = sec
    for section, key in (("crawl", "ca_files"), ("attribution", "cdn_files")):
        sec = out.get(section)
        if isinstance(sec, dict) and isinstance(sec.get(key), list):
            sec = dict(sec)
            sec[key] = [str(base / p) if isinstance(p, str) else p for p in sec[key]]
            out[section] = sec
    db = out.get("database_url")
    if isinstance(db, str) and db.startswith("sqlite:///") and not db.startswith("sqlite:////"):
        rel = db.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            out["database_url"] = "sqlite:///" + str((base / rel).resolve())
    return out


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, the TOML file and the environment.

    The file is ``config_file``, else ``$CORDON_CONFIG``, else none. Raises :class:`ConfigError`
    naming the offending setting and where it came from.
    """
    env = os.environ if environ is None else environ
    if config_file is None and env.get("CORDON_CONFIG"):
        config_file = Path(env["CORDON_CONFIG"])
    data: dict[str, Any] = {}
    if config_file is not None:
        try:
            raw = config_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {config_file}: {exc}") from exc
        try:
            parsed = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}") from exc
        data = _resolve_paths(parsed, config_file.resolve().parent)
    data = _merge(data, _env_layer(env))
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        source = f" (from {config_file} and the environment)" if config_file else ""
        raise ConfigError(f"invalid settings{source}: {problems}") from exc
