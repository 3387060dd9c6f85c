"""Payment-service checkout links -> (provider, merchant/account id).

Each provider is described by data, not code: host patterns, a path template and/or a query
parameter saying where the account id sits, and the pattern an account id must fit. The same
description can come from Cordon's configuration or a provider organisation's registration
(``provider_from_mapping``). Cordon ships only fictitious providers on ``.test`` domains, used by
the synthetic world; real ones are added as data.

Host patterns: ``pay.example.test`` (exactly that host), ``*.example.test`` (any subdomain,
one or more labels), ``{account}.example.test`` (the leftmost label is the account id).
Path templates: segments separated by ``/``; ``{account}`` captures a segment, ``*`` matches
any one segment, anything else must equal the segment (case-insensitively). The template must
match the start of the path; further segments are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from cordon.domain.payments.errors import InvalidCheckoutLink, InvalidProviderSpec

ACCOUNT = "{account}"
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_QUERY_RE = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")
_MAX_ACCOUNT = 128


@dataclass(frozen=True)
class CheckoutAccount:
    """A payment-service account named by a checkout link.

    ``provider`` and ``account_id`` identify the account; ``url`` is the link it was read from.
    """

    provider: str
    account_id: str
    url: str

    @property
    def key(self) -> str:
        """``provider:account_id``, the form two sightings of one account share."""
        return f"{self.provider}:{self.account_id}"


@dataclass(frozen=True)
class CheckoutProvider:
    """Where one payment service's checkout links carry the merchant/account id.

    Exactly one of: ``{account}`` in a host pattern, ``{account}`` in ``path``, or ``query``.
    ``path`` without ``{account}`` still restricts which paths are checkout links.
    ``account_pattern`` is a regular expression the whole id must match; ``account_case`` says
    whether ids are case-insensitive (``lower``: stored lower-cased) or kept as written.
    ``reserved_accounts`` are values that are never accounts (``www`` for host-based ids).
    """

    name: str
    hosts: tuple[str, ...]
    path: str | None = None
    query: str | None = None
    account_pattern: str = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
    account_case: Literal["lower", "preserve"] = "lower"
    reserved_accounts: frozenset[str] = frozenset()
    description: str = ""
    _account_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _path_segments: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate_provider(self)
        object.__setattr__(self, "_account_re", re.compile(self.account_pattern))
        segments = tuple(s for s in (self.path or "").split("/") if s)
        object.__setattr__(self, "_path_segments", segments)

    def match(self, url: str) -> CheckoutAccount | None:
        """The account this link names, or None when it is not one of this provider's."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or not host:
            return None
        from_host: str | None = None
        for pattern in self.hosts:
            hit = _match_host(pattern, host)
            if hit is not None:
                from_host = hit
                break
        else:
            return None
        from_path = self._match_path(parts.path)
        if from_path is None:
            return None
        if from_host:
            account: str | None = from_host
        elif from_path:
            account = from_path
        elif self.query is not None:
            values = parse_qs(parts.query, keep_blank_values=False).get(self.query)
            account = values[0] if values else None
        else:
            account = None
        if account is None:
            return None
        account = account.strip()
        if self.account_case == "lower":
            account = account.lower()
        if (
            not account
            or len(account) > _MAX_ACCOUNT
            or account.lower() in self.reserved_accounts
            or not self._account_re.fullmatch(account)
        ):
            return None
        return CheckoutAccount(self.name, account, url)

    def _match_path(self, path: str) -> str | None:
        """'' when the path fits without capturing, the captured id, or None for no fit."""
        if not self._path_segments:
            return ""
        segments = [unquote(s) for s in path.split("/") if s]
        if len(segments) < len(self._path_segments):
            return None
        captured = ""
        for template, segment in zip(self._path_segments, segments, strict=False):
            if template == ACCOUNT:
                captured = segment
            elif template != "*" and template.lower() != segment.lower():
                return None
        return captured

    def host_suffixes(self) -> tuple[str, ...]:
        """The fixed right-hand part of each host pattern, for a quick pre-filter."""
        return tuple(_host_suffix(p) for p in self.hosts)


def _host_suffix(pattern: str) -> str:
    if pattern.startswith(("*.", ACCOUNT + ".")):
        return pattern.split(".", 1)[1]
    return pattern


def _match_host(pattern: str, host: str) -> str | None:
    """'' for a plain match, the account label for an ``{account}.`` match, None otherwise."""
    host = host.lower()
    if pattern.startswith("*."):
        return "" if host.endswith(pattern[1:]) else None
    if pattern.startswith(ACCOUNT + "."):
        suffix = pattern[len(ACCOUNT) :]
        if host.endswith(suffix):
            label = host[: -len(suffix)]
            if label and "." not in label:
                return label
        return None
    return "" if host == pattern else None


def _validate_provider(provider: CheckoutProvider) -> None:
    def bad(field_name: str, reason: str) -> InvalidProviderSpec:
        return InvalidProviderSpec(f"checkout provider {provider.name!r}: {field_name} {reason}")

    if not isinstance(provider.name, str) or not _NAME_RE.fullmatch(provider.name):
        raise bad("name", "must be 1-64 lower-case letters, digits, '_', '.' or '-'")
    if not provider.hosts:
        raise bad("hosts", "must list at least one host pattern")
    host_accounts = 0
    for pattern in provider.hosts:
        if not isinstance(pattern, str):
            raise bad("hosts", "must be strings")
        labels = pattern.split(".")
        if pattern.startswith(("*.", ACCOUNT + ".")):
            host_accounts += pattern.startswith(ACCOUNT)
            labels = labels[1:]
        if len(labels) < 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
            raise bad(
                "hosts", f"pattern {pattern!r} is not a host name, *.host or {{account}}.host"
            )
    path_segments = [s for s in (provider.path or "").split("/") if s]
    if provider.path is not None and not provider.path.startswith("/"):
        raise bad("path", "must start with '/'")
    path_accounts = path_segments.count(ACCOUNT)
    if path_accounts > 1:
        raise bad("path", "may hold {account} once")
    if any("{" in s or "}" in s for s in path_segments if s != ACCOUNT):
        raise bad("path", "knows only the {account} placeholder")
    if provider.query is not None and not _QUERY_RE.fullmatch(provider.query):
        raise bad("query", "must be a query parameter name")
    sources = (host_accounts > 0) + (path_accounts > 0) + (provider.query is not None)
    if sources != 1:
        raise bad(
            "hosts/path/query",
            "must name exactly one place for the account id: "
            "{account} in a host, {account} in the path, or a query parameter",
        )
    if host_accounts and host_accounts != len(provider.hosts):
        raise bad("hosts", "must all carry {account} when one does")
    try:
        re.compile(provider.account_pattern)
    except re.error as exc:
        raise bad("account_pattern", f"is not a regular expression ({exc})") from None
    if provider.account_case not in ("lower", "preserve"):
        raise bad("account_case", "must be 'lower' or 'preserve'")


_SPEC_FIELDS = {
    "name",
    "hosts",
    "path",
    "query",
    "account_pattern",
    "account_case",
    "reserved_accounts",
    "description",
}


def provider_from_mapping(data: Mapping[str, object]) -> CheckoutProvider:
    """Build a provider from configuration data (a TOML table or JSON object).

    Keys: ``name``, ``hosts`` (list), optional ``path``, ``query``, ``account_pattern``,
    ``account_case`` (``lower``/``preserve``), ``reserved_accounts`` (list), ``description``.
    Raises ``InvalidProviderSpec`` naming the offending key.
    """
    name = data.get("name", "?")
    unknown = set(data) - _SPEC_FIELDS
    if unknown:
        raise InvalidProviderSpec(
            f"checkout provider {name!r}: unknown key(s) {', '.join(sorted(unknown))}"
        )

    def text(key: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                raise InvalidProviderSpec(f"checkout provider {name!r}: {key} is required")
            return None
        if not isinstance(value, str):
            raise InvalidProviderSpec(f"checkout provider {name!r}: {key} must be a string")
        return value

    def strings(key: str) -> tuple[str, ...]:
        value = data.get(key, ())
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise InvalidProviderSpec(f"checkout provider {name!r}: {key} must be a list")
        if not all(isinstance(v, str) for v in value):
            raise InvalidProviderSpec(f"checkout provider {name!r}: {key} must hold strings")
        return tuple(str(v) for v in value)

    case = text("account_case") or "lower"
    if case not in ("lower", "preserve"):
        raise InvalidProviderSpec(
            f"checkout provider {name!r}: account_case must be 'lower' or 'preserve'"
        )
    pattern = text("account_pattern")
    return CheckoutProvider(
        name=text("name", required=True) or "",
        hosts=tuple(h.lower() for h in strings("hosts")),
        path=text("path"),
        query=text("query"),
        account_pattern=pattern if pattern is not None else CheckoutProvider.account_pattern,
        account_case="lower" if case == "lower" else "preserve",
        reserved_accounts=frozenset(v.lower() for v in strings("reserved_accounts")),
        description=text("description") or "",
    )


def provider_to_mapping(provider: CheckoutProvider) -> dict[str, object]:
    """The configuration-data form of a provider (inverse of ``provider_from_mapping``)."""
    out: dict[str, object] = {"name": provider.name, "hosts": list(provider.hosts)}
    if provider.path is not None:
        out["path"] = provider.path
    if provider.query is not None:
        out["query"] = provider.query
    out["account_pattern"] = provider.account_pattern
    out["account_case"] = provider.account_case
    if provider.reserved_accounts:
        out["reserved_accounts"] = sorted(provider.reserved_accounts)
    if provider.description:
        out["description"] = provider.description
    return out


@dataclass(frozen=True)
class CheckoutRegistry:
    """An immutable set of checkout providers; ``extended`` returns a registry with more."""

    providers: tuple[CheckoutProvider, ...] = ()

    def __post_init__(self) -> None:
        names = [p.name for p in self.providers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidProviderSpec(f"checkout provider(s) registered twice: {duplicates}")

    def extended(self, providers: Iterable[CheckoutProvider]) -> CheckoutRegistry:
        """A registry with ``providers`` added; a provider of the same name is replaced."""
        added = tuple(providers)
        names = {p.name for p in added}
        return CheckoutRegistry(tuple(p for p in self.providers if p.name not in names) + added)

    def extended_from_data(self, specs: Iterable[Mapping[str, object]]) -> CheckoutRegistry:
        """``extended`` with providers given as configuration data."""
        return self.extended(provider_from_mapping(spec) for spec in specs)

    def get(self, name: str) -> CheckoutProvider | None:
        """The provider called ``name``, if registered."""
        return next((p for p in self.providers if p.name == name), None)

    def host_suffixes(self) -> tuple[str, ...]:
        """Every provider host's fixed part, longest first, for a quick pre-filter."""
        suffixes = {s for p in self.providers for s in p.host_suffixes()}
        return tuple(sorted(suffixes, key=lambda s: (-len(s), s)))

    def match(self, url: str) -> CheckoutAccount | None:
        """The account a link names, or None when no registered provider recognises it."""
        for provider in self.providers:
            found = provider.match(url)
            if found is not None:
                return found
        return None

    def parse(self, url: str) -> CheckoutAccount:
        """Like ``match`` but raises ``InvalidCheckoutLink`` saying why the link is not one."""
        stripped = url.strip()
        try:
            parts = urlsplit(stripped)
            host = (parts.hostname or "").rstrip(".")
        except ValueError as exc:
            raise InvalidCheckoutLink(url, f"not a URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise InvalidCheckoutLink(url, "not an http(s) URL with a host")
        found = self.match(stripped)
        if found is not None:
            return found
        if not any(_match_host(h, host) is not None for p in self.providers for h in p.hosts):
            raise InvalidCheckoutLink(url, f"host {host!r} is no registered payment service's")
        raise InvalidCheckoutLink(url, "path or query holds no valid account id")


FICTITIOUS_PROVIDERS: tuple[CheckoutProvider, ...] = (
    CheckoutProvider(
        name="paybridge",
        hosts=("pay.paybridge.test",),
        path="/checkout/{account}",
        account_pattern=r"[a-z0-9][a-z0-9-]{2,39}",
        account_case="lower",
        description="Fictitious card checkout: https://pay.paybridge.test/checkout/<merchant>",
    ),
    CheckoutProvider(
        name="coinvault",
        hosts=("checkout.coinvault.test",),
        path="/m/{account}",
        account_pattern=r"M[0-9]{8}",
        account_case="preserve",
        description=(
            "Fictitious crypto payment gateway: "
            "https://checkout.coinvault.test/m/M<8 digits>[/invoice/<id>]"
        ),
    ),
    CheckoutProvider(
        name="swiftpay",
        hosts=("swiftpay.test", "www.swiftpay.test"),
        path="/pay",
        query="merchant_id",
        account_pattern=r"[0-9]{6,12}",
        description=(
            "Fictitious wallet service: https://swiftpay.test/pay?merchant_id=<6-12 digits>"
        ),
    ),
    CheckoutProvider(
        name="tillpoint",
        hosts=("{account}.tillpoint.test",),
        account_pattern=r"[a-z0-9][a-z0-9-]{2,30}",
        reserved_accounts=frozenset({"www", "api", "help", "status", "static", "cdn"}),
        description="Fictitious hosted shop: https://<shop>.tillpoint.test/<any path>",
    ),
)

DEFAULT_CHECKOUT_REGISTRY = CheckoutRegistry(FICTITIOUS_PROVIDERS)


def parse_checkout_link(
    url: str, registry: CheckoutRegistry = DEFAULT_CHECKOUT_REGISTRY
) -> CheckoutAccount:
    """The account a checkout link names, by the providers in ``registry``.

    Raises ``InvalidCheckoutLink`` when the link is no registered provider's or carries no valid
    account id.
    """
    return registry.parse(url)
