"""IP → ASN, AS organisation, prefix and country from MaxMind-format databases.

Read with ``maxminddb`` (its C extension when installed). The layouts understood are
GeoLite2-ASN / DB-IP ASN Lite (``autonomous_system_number``, ``autonomous_system_organization``),
GeoLite2-Country / City and DB-IP Country Lite (``country.iso_code``, else
``registered_country.iso_code``) and IPinfo Lite (``asn`` as ``AS123``, ``as_name``,
``country_code``), so one IPinfo Lite file may serve as both databases.

A database that is missing, unreadable or corrupt never raises out of a lookup: the lookup
returns what it could find and a :class:`~cordon.attribution.model.Failure` that names the file.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import maxminddb
from maxminddb.reader import Reader

from cordon.attribution.model import Failure, IpRecord
from cordon.config import IpdbSettings

#: How often (wall-clock seconds) a database file is checked for replacement on disk.
RECHECK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """What ``cordon doctor`` says about one configured database file."""

    role: str
    path: Path
    ok: bool
    database_type: str | None = None
    build_date: datetime | None = None
    ip_version: int | None = None
    problem: str | None = None


class _Db:
    """One database file, opened on first use and reopened when the file is replaced."""

    def __init__(self, role: str, path: Path) -> None:
        self.role = role
        self.path = path
        self.reader: Reader | None = None
        self.problem: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _open(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self.reader, self.problem = None, None
        self._stamp = self._file_stamp()
        if self._stamp is None:
            self.problem = f"{self.role} database {self.path} does not exist"
            return
        try:
            self.reader = maxminddb.open_database(str(self.path), maxminddb.MODE_AUTO)
        except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
            self.problem = f"{self.role} database {self.path} cannot be read: {exc}"

    def current(self) -> Reader | None:
        """The open reader, or None (then :attr:`problem` says why)."""
        now = time.monotonic()
        if now > self._checked:
            with self._lock:
                if self._stamp is None or self._file_stamp() != self._stamp:
                    self._open()
                self._checked = now + RECHECK_SECONDS
        return self.reader

    def close(self) -> None:
        with self._lock:
            if self.reader is not None:
                self.reader.close()
            self.reader = None
            self._stamp = None
            self._checked = 0.0


def _asn(record: Any) -> tuple[int | None, str | None]:
    if not isinstance(record, dict):
        return None, None
    number: Any = record.get("autonomous_system_number")
    org: Any = record.get("autonomous_system_organization")
    if number is None and "asn" in record:
        # IPinfo Lite writes "AS13335".
        raw = record["asn"]
        if isinstance(raw, str) and raw[:2].upper() == "AS" and raw[2:].isdigit():
            number = int(raw[2:])
        elif isinstance(raw, int):
            number = raw
        org = record.get("as_name", org)
    if type(number) is not int or not 0 <= number < 2**32:
        number = None
    return number, org[:255] if type(org) is str else None


def _country(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    for key in ("country", "registered_country"):
        part = record.get(key)
        if type(part) is dict:
            code = part.get("iso_code")
            if type(code) is str and len(code) == 2:
                return code.upper()
    code = record.get("country_code")
    if type(code) is str and len(code) == 2:
        return code.upper()
    return None


class IpDatabases:
    """The configured ASN and country databases."""

    def __init__(self, settings: IpdbSettings) -> None:
        self.settings = settings
        self._asn = _Db("ASN", settings.asn_database) if settings.asn_database else None
        self._country: _Db | None = None
        if settings.country_database is not None:
            if self._asn is not None and settings.country_database == settings.asn_database:
                self._country = self._asn
            else:
                self._country = _Db("country", settings.country_database)

    def close(self) -> None:
        """Close the database files."""
        for db in (self._asn, self._country):
            if db is not None:
                db.close()

    def lookup(self, address: str) -> tuple[IpRecord, tuple[Failure, ...]]:
        """ASN, AS organisation, prefix and country of ``address``, and what failed."""
        asn_db, country_db = self._asn, self._country
        asn_reader = asn_db.current() if asn_db is not None else None
        country_reader = country_db.current() if country_db is not None else None
        if asn_reader is not None and country_reader is not None:
            # The common case, kept short: it is on the path of every attribution.
            try:
                record, prefix_len = asn_reader.get_with_prefix_len(address)
                other = record if country_db is asn_db else country_reader.get(address)
            except (ValueError, maxminddb.InvalidDatabaseError, OSError, RuntimeError, TypeError):
                pass  # the slow path below says which database failed and how
            else:
                if record is None:
                    return IpRecord(address, country=_country(other) if other else None), ()
                asn, org = _asn(record)
                return IpRecord(address, asn, org, prefix_len, _country(other)), ()
        return self._lookup_slow(address)

    def _lookup_slow(self, address: str) -> tuple[IpRecord, tuple[Failure, ...]]:
        failures: list[Failure] = []
        asn: int | None = None
        org: str | None = None
        prefix: int | None = None
        country: str | None = None
        asn_db, country_db = self._asn, self._country
        if asn_db is None:
            failures.append(
                Failure("ipdb", address, "unconfigured", "no ASN database is configured")
            )
        else:
            found = self._get(asn_db, address, failures, with_prefix=True)
            if found is not None:
                record, prefix_len = found
                if isinstance(record, dict):
                    asn, org = _asn(record)
                    prefix = prefix_len
                    if country_db is asn_db:
                        country = _country(record)
        if country_db is None:
            failures.append(
                Failure("ipdb", address, "unconfigured", "no country database is configured")
            )
        elif country_db is not asn_db:
            found = self._get(country_db, address, failures, with_prefix=False)
            if found is not None and isinstance(found[0], dict):
                country = _country(found[0])
        return IpRecord(address, asn, org, prefix, country), tuple(failures)

    @staticmethod
    def _get(
        db: _Db, address: str, failures: list[Failure], *, with_prefix: bool
    ) -> tuple[Any, int] | None:
        reader = db.current()
        if reader is None:
            failures.append(Failure("ipdb", address, "unavailable", db.problem or db.role))
            return None
        try:
            if with_prefix:
                return reader.get_with_prefix_len(address)
            return reader.get(address), 0
        except ValueError as exc:
            failures.append(Failure("ipdb", address, "invalid_address", str(exc)))
        except (maxminddb.InvalidDatabaseError, OSError, RuntimeError, TypeError) as exc:
            failures.append(
                Failure("ipdb", address, "corrupt", f"{db.role} database {db.path}: {exc}")
            )
        return None

    def describe(self) -> list[DatabaseInfo]:
        """Each configured database with its type and build date, or what is wrong with it."""
        out: list[DatabaseInfo] = []
        seen: set[int] = set()
        for db in (self._asn, self._country):
            if db is None or id(db) in seen:
                continue
            seen.add(id(db))
            reader = db.current()
            if reader is None:
                out.append(DatabaseInfo(db.role, db.path, False, problem=db.problem))
                continue
            try:
                meta = reader.metadata()
                built = datetime.fromtimestamp(int(meta.build_epoch), UTC)
                out.append(
                    DatabaseInfo(
                        db.role,
                        db.path,
                        True,
                        database_type=str(meta.database_type),
                        build_date=built,
                        ip_version=int(meta.ip_version),
                    )
                )
            except (maxminddb.InvalidDatabaseError, ValueError, OverflowError, OSError) as exc:
                out.append(DatabaseInfo(db.role, db.path, False, problem=f"{exc}"))
        return out
