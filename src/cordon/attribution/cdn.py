"""Recognising CDNs and reverse proxies in front of a site.

Three kinds of evidence, from a maintained data file (``data/cdn.json``, plus the files named
in ``attribution.cdn_files``): the address is in an autonomous system that is the CDN's edge;
an alias in the name's CNAME chain ends in one of the CDN's names; a response header that only
the CDN sends (when a capture brings its headers). Name servers at the CDN are noted as
supporting evidence but never decide on their own: many sites use a CDN's DNS without its proxy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cordon.attribution.model import CdnFinding

SHIPPED_FILE = Path(__file__).parent / "data" / "cdn.json"
FORMAT = "cordon-cdn/1"


class CdnDataError(ValueError):
    """A CDN data file cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HeaderRule(_Strict):
    """A response header that marks the CDN: present at all, or containing a text."""

    name: str = Field(min_length=1, description="Header name (any case).")
    contains: str | None = Field(None, description="Text the value contains (any case).")

    def matches(self, headers: Mapping[str, str]) -> str | None:
        value = headers.get(self.name.lower())
        if value is None:
            return None
        if self.contains is not None and self.contains.lower() not in value.lower():
            return None
        if self.contains is None:
            return f"response header {self.name.lower()}"
        return f"response header {self.name.lower()}: {value[:80]}"


class CdnEntry(_Strict):
    """One CDN or reverse proxy."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str = Field(min_length=1, max_length=200)
    asns: list[int] = Field(default_factory=list)
    cname_suffixes: list[str] = Field(default_factory=list)
    nameserver_suffixes: list[str] = Field(default_factory=list)
    headers: list[HeaderRule] = Field(default_factory=list)

    @field_validator("asns")
    @classmethod
    def _asns(cls, value: list[int]) -> list[int]:
        for asn in value:
            if not 0 < asn < 2**32:
                raise ValueError(f"{asn} is not an AS number")
        return value

    @field_validator("cname_suffixes", "nameserver_suffixes")
    @classmethod
    def _suffixes(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            suffix = item.strip().lower().strip(".")
            if not suffix or " " in suffix:
                raise ValueError(f"{item!r} is not a domain name")
            out.append(suffix)
        return out


class CdnFile(_Strict):
    """A CDN data file."""

    format: str
    reviewed: str | None = None
    description: str | None = None
    cdns: list[CdnEntry]

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != FORMAT:
            raise ValueError(f"format must be {FORMAT!r}")
        return value


def _under(name: str, suffix: str) -> bool:
    name = name.lower().rstrip(".")
    return name == suffix or name.endswith("." + suffix)


@dataclass(frozen=True)
class CdnCatalogue:
    """Every known CDN, with indexes for the lookups attribution makes."""

    entries: tuple[CdnEntry, ...]
    files: tuple[Path, ...]

    def header_names(self) -> frozenset[str]:
        """Every response header some CDN is recognised by (for a crawler to keep)."""
        return frozenset(rule.name.lower() for e in self.entries for rule in e.headers)

    def by_id(self, cdn_id: str) -> CdnEntry | None:
        return next((e for e in self.entries if e.id == cdn_id), None)

    def by_asn(self, asn: int | None) -> CdnEntry | None:
        """The CDN whose edge is autonomous system ``asn``."""
        if asn is None:
            return None
        return next((e for e in self.entries if asn in e.asns), None)

    def by_alias(self, name: str) -> CdnEntry | None:
        """The CDN whose names ``name`` is under."""
        for entry in self.entries:
            if any(_under(name, s) for s in entry.cname_suffixes):
                return entry
        return None

    def by_nameserver(self, name: str) -> CdnEntry | None:
        for entry in self.entries:
            if any(_under(name, s) for s in entry.nameserver_suffixes):
                return entry
        return None

    def detect(
        self,
        *,
        asn: int | None,
        aliases: Iterable[str] = (),
        nameservers: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
    ) -> CdnFinding | None:
        """The CDN in front of a site, or None. The autonomous system decides first, then a
        response header, then an alias; each piece of evidence found is listed."""
        evidence: dict[str, list[str]] = {}
        ranked: list[str] = []

        def note(entry: CdnEntry, text: str) -> None:
            if entry.id not in evidence:
                evidence[entry.id] = []
                ranked.append(entry.id)
            if text not in evidence[entry.id]:
                evidence[entry.id].append(text)

        found = self.by_asn(asn)
        if found is not None:
            note(found, f"AS{asn} is the edge network of {found.name}")
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        for entry in self.entries:
            for rule in entry.headers:
                hit = rule.matches(lowered)
                if hit is not None:
                    note(entry, hit)
        for alias in aliases:
            by_alias = self.by_alias(alias)
            if by_alias is not None:
                note(by_alias, f"alias {alias} is a name of {by_alias.name}")
        if not ranked:
            return None
        chosen = self.by_id(ranked[0])
        assert chosen is not None
        for ns in nameservers:
            by_ns = self.by_nameserver(ns)
            if by_ns is not None and by_ns.id == chosen.id:
                note(by_ns, f"name server {ns} is {by_ns.name}'s")
        names = {e.id: e.name for e in self.entries}
        others = [f"also matches {names[i]}" for i in ranked[1:]]
        return CdnFinding(chosen.id, chosen.name, tuple(evidence[chosen.id] + others))


def read_file(path: Path) -> CdnFile:
    """Read and validate one CDN data file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CdnDataError(f"CDN data file {path} cannot be read: {exc}") from exc
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CdnDataError(f"CDN data file {path} is not JSON: {exc}") from exc
    try:
        return CdnFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CdnDataError(f"CDN data file {path}: {where}: {err['msg']}") from exc


def load_catalogue(extra_files: Sequence[Path] = ()) -> CdnCatalogue:
    """The shipped catalogue, then each extra file in order; an entry with an id seen before
    replaces it. Raises :class:`CdnDataError` naming a file that cannot be used."""
    by_id: dict[str, CdnEntry] = {}
    files = (SHIPPED_FILE, *extra_files)
    for path in files:
        for entry in read_file(path).cdns:
            by_id[entry.id] = entry
    return CdnCatalogue(tuple(by_id.values()), tuple(files))
