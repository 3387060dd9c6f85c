"""Bank accounts as IBANs: country, per-country length and structure, and the mod-97 check.

The checks and the per-country registry come from ``schwifty`` (ISO 13616 registry plus the
formats it marks aspirational); this module turns its answers into a frozen ``BankAccount`` and
Cordon's error type.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

import pycountry
from schwifty import IBAN, registry
from schwifty.exceptions import SchwiftyException

from cordon.domain.payments.errors import InvalidIban

# What may separate IBAN groups when printed: spaces (also no-break and thin ones) and dashes.
_SEPARATORS = re.compile(r"[\s\u00a0\u2009\u202f-]+")


@dataclass(frozen=True)
class BankAccount:
    """An IBAN whose country, length, BBAN structure and mod-97 check digits hold.

    ``iban`` is the compact upper-case form; ``aspirational`` marks a country whose IBAN format
    is announced but not yet in the official registry.
    """

    iban: str
    country_code: str
    check_digits: str
    bban: str
    bank_code: str
    aspirational: bool = False

    @property
    def formatted(self) -> str:
        """The IBAN in groups of four, as printed on paper."""
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))

    def __str__(self) -> str:
        return self.iban


def compact_iban(text: str) -> str:
    """The IBAN with separators and an ``IBAN`` label removed, upper-cased (not validated)."""
    compact = _SEPARATORS.sub("", text).upper()
    return compact.removeprefix("IBAN:").removeprefix("IBAN")


def parse_iban(text: str) -> BankAccount:
    """Parse an IBAN written compact or in groups, in any case.

    Raises ``InvalidIban`` when the country has no IBAN format, the length is not that
    country's, the BBAN does not fit the country's structure, or the mod-97 check fails.
    """
    compact = compact_iban(text)
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}", compact):
        raise InvalidIban(text, "an IBAN is 2 letters, 2 check digits and up to 30 letters/digits")
    try:
        parsed = IBAN(compact)
    except SchwiftyException as exc:
        raise InvalidIban(text, _reason(exc, compact)) from None
    return BankAccount(
        iban=str(parsed.compact),
        country_code=parsed.country_code,
        check_digits=parsed.checksum_digits,
        bban=str(parsed.bban),
        bank_code=parsed.bank_code,
        aspirational=bool(parsed.is_aspirational),
    )


def _reason(exc: SchwiftyException, compact: str) -> str:
    name = type(exc).__name__
    country = compact[:2]
    if name == "InvalidCountryCode":
        return f"country {country!r} has no IBAN format"
    if name == "InvalidLength":
        expected = iban_lengths().get(country)
        return f"{len(compact)} characters, {country} IBANs have {expected}"
    if name == "InvalidChecksumDigits":
        return "mod-97 check digits do not hold"
    if name == "InvalidStructure":
        return f"BBAN does not fit the {country} structure"
    return str(exc)


def is_valid_iban(text: str) -> bool:
    """Whether ``parse_iban`` accepts ``text``."""
    try:
        parse_iban(text)
    except InvalidIban:
        return False
    return True


@functools.cache
def iban_lengths() -> Mapping[str, int]:
    """Country code -> IBAN length, for every country with an IBAN format."""
    lengths: dict[str, int] = {}
    # schwifty lists only the countries it has banks for; ask it about every ISO country instead.
    # Kosovo (XK) uses IBANs but has a user-assigned code outside ISO 3166-1.
    for code in sorted({country.alpha_2 for country in pycountry.countries} | {"XK"}):
        try:
            lengths[code] = registry.get_iban_spec(code).iban_length
        except SchwiftyException:
            continue
    return lengths


def make_iban(country_code: str, bban: str) -> str:
    """The compact IBAN for ``bban`` in ``country_code``, with its mod-97 check digits computed.

    Raises ``InvalidIban`` when the BBAN does not fit the country's length or structure.
    """
    country = country_code.strip().upper()
    compact = compact_iban(bban)
    if not re.fullmatch(r"[A-Z]{2}", country) or not re.fullmatch(r"[A-Z0-9]{1,30}", compact):
        raise InvalidIban(country_code + bban, "a country code and a BBAN of letters/digits")
    # ISO 7064 MOD 97-10: move country and "00" to the end, letters to numbers, 98 - n mod 97.
    digits = "".join(str(int(c, 36)) for c in compact + country + "00")
    check = 98 - int(digits) % 97
    return parse_iban(f"{country}{check:02d}{compact}").iban


def synthetic_iban(country_code: str, seed: bytes) -> str:
    """A valid IBAN of ``country_code`` derived deterministically from ``seed``, with a random
    bank code rather than one of a real bank, for synthetic data."""
    rng = random.Random(hashlib.sha256(b"cordon-synthetic-iban\x00" + seed).digest())
    try:
        generated = IBAN.random(country_code.upper(), random=rng, use_registry=False)
    except SchwiftyException as exc:
        raise InvalidIban(country_code, _reason(exc, country_code.upper())) from None
    return parse_iban(str(generated.compact)).iban
