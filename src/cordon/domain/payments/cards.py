"""Card-acceptance facts: schemes, MCC, acquirer BIN, merchant ids, and merchant descriptors.

A merchant descriptor is what a card statement shows ("ACME*DIGITAL 0423",
"ACME DIGITAL LTD LONDON GB"). One merchant shows up under many variants, so descriptors are
normalised (case, accents, punctuation, ``*`` separators, facilitator prefixes, trailing store
numbers, phone numbers, city and country, legal-form suffixes) and then compared with
rapidfuzz; links above a threshold keep the scores that made them, so an analyst can see why.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pycountry
from rapidfuzz import fuzz, process

from cordon.domain.payments.errors import InvalidCardFact


class CardScheme(StrEnum):
    """Card schemes, by the names Cordon stores."""

    VISA = "visa"
    MASTERCARD = "mastercard"
    MAESTRO = "maestro"
    AMEX = "amex"
    DISCOVER = "discover"
    DINERS = "diners"
    JCB = "jcb"
    UNIONPAY = "unionpay"
    CARTES_BANCAIRES = "cartes_bancaires"
    RUPAY = "rupay"
    MIR = "mir"
    ELO = "elo"
    INTERAC = "interac"


_SCHEME_ALIASES: dict[str, CardScheme] = {
    "visa": CardScheme.VISA,
    "visaelectron": CardScheme.VISA,
    "vpay": CardScheme.VISA,
    "mastercard": CardScheme.MASTERCARD,
    "mc": CardScheme.MASTERCARD,
    "maestro": CardScheme.MAESTRO,
    "amex": CardScheme.AMEX,
    "americanexpress": CardScheme.AMEX,
    "discover": CardScheme.DISCOVER,
    "diners": CardScheme.DINERS,
    "dinersclub": CardScheme.DINERS,
    "dinersclubinternational": CardScheme.DINERS,
    "jcb": CardScheme.JCB,
    "unionpay": CardScheme.UNIONPAY,
    "chinaunionpay": CardScheme.UNIONPAY,
    "cup": CardScheme.UNIONPAY,
    "cartesbancaires": CardScheme.CARTES_BANCAIRES,
    "cb": CardScheme.CARTES_BANCAIRES,
    "rupay": CardScheme.RUPAY,
    "mir": CardScheme.MIR,
    "elo": CardScheme.ELO,
    "interac": CardScheme.INTERAC,
}


def parse_scheme(text: str) -> CardScheme:
    """The scheme a name stands for ("VISA", "Master Card", "MC", "American Express", ...)."""
    key = re.sub(r"[^a-z]", "", text.lower())
    scheme = _SCHEME_ALIASES.get(key)
    if scheme is None:
        raise InvalidCardFact("card scheme", text, "not a known card scheme")
    return scheme


def parse_mcc(text: str) -> str:
    """A merchant category code (ISO 18245): exactly four digits, kept as a string."""
    value = text.strip()
    if not re.fullmatch(r"[0-9]{4}", value):
        raise InvalidCardFact("MCC", text, "an MCC is exactly 4 digits")
    return value


def parse_acquirer_bin(text: str) -> str:
    """An acquirer BIN: 6 to 8 digits (spaces and dashes between digits are dropped)."""
    value = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"[0-9]{6,8}", value):
        raise InvalidCardFact("acquirer BIN", text, "an acquirer BIN is 6 to 8 digits")
    return value


def parse_merchant_id(text: str) -> str:
    """A card acceptor (merchant) id: 1 to 15 letters or digits, upper-cased (ISO 8583 field
    42 is 15 characters)."""
    value = text.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{1,15}", value):
        raise InvalidCardFact("merchant id", text, "a merchant id is 1 to 15 letters or digits")
    return value


# ---------------------------------------------------------------- descriptor normalisation

# Payment facilitators that put their own tag before the merchant's name.
FACILITATOR_PREFIXES = (
    "PAYPAL",
    "PP",
    "SQ",
    "SQU",
    "TST",
    "SP",
    "IZ",
    "ZTL",
    "PY",
    "GGL",
    "GOOGLE",
    "APPLE",
    "AMZN",
    "FS",
    "WPY",
    "STRIPE",
)
_LEGAL_SUFFIX_WORDS = """
    LTD LIMITED LLC LLP LP INC INCORPORATED CORP CORPORATION CO COMPANY PLC GMBH MBH AG KG
    OHG UG SA SAS SARL SRL SPA SPRL BV BVBA NV AB OY OYJ AS ASA APS PTY PTE SDN BHD KFT SRO ZRT
    OU UAB DOO EOOD OOO SL SE LDA SC KK"""
LEGAL_SUFFIXES = frozenset(_LEGAL_SUFFIX_WORDS.split())
# Tokens that introduce a store number or a branch.
_STORE_WORDS = frozenset({"STORE", "STR", "NO", "NR", "NUM", "LOC", "BRANCH"})
_US_STATE_CODES = """
    AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH
    NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC"""
_US_STATES = frozenset(_US_STATE_CODES.split())
# Cities that card descriptors carry after the merchant name: capitals and large commercial
# cities, in English and local spelling. Callers add their own with ``places=``.
_PLACE_NAMES = """
    AMSTERDAM ANDORRA ANKARA ATHENS ATHINA ATLANTA AUCKLAND BAKU BANGKOK BARCELONA BASEL BEIJING
    BELFAST BELGRADE BEOGRAD BERGEN BERLIN BERN BIRMINGHAM BOGOTA BORDEAUX BOSTON BRATISLAVA
    BREMEN BRISBANE BRISTOL BRNO BRUSSELS BRUXELLES BRUSSEL BUCHAREST BUCURESTI BUDAPEST CAIRO
    CALGARY CARDIFF CHICAGO CHISINAU COLOGNE KOLN COPENHAGEN KOBENHAVN CORK DALLAS DELHI DENVER
    DOHA DORTMUND DRESDEN DUBAI DUBLIN DUSSELDORF EDINBURGH ESSEN ESPOO FRANKFURT GDANSK GENEVA
    GENEVE GENOA GENOVA GLASGOW GOTHENBURG GOTEBORG GRAZ HAMBURG HANNOVER HANOVER HELSINKI HOUSTON
    ISTANBUL JAKARTA JERUSALEM JOHANNESBURG KATOWICE KAUNAS KIEV KYIV KRAKOW LARNACA LAUSANNE
    LEEDS LEIPZIG LIMASSOL LILLE LIMA LINZ LISBON LISBOA LIVERPOOL LJUBLJANA LODZ LONDON LUXEMBOURG
    LYON MADRID MALMO MANCHESTER MANILA MARSEILLE MELBOURNE MIAMI MILAN MILANO MINSK MONACO
    MONTREAL MOSCOW MOSKVA MUMBAI MUNICH MUNCHEN NANTES NAPLES NAPOLI NICE NICOSIA OSLO OTTAWA
    PALERMO PARIS PERTH PHOENIX PORTO POZNAN PRAGUE PRAHA REYKJAVIK RIGA ROME ROMA ROTTERDAM
    SALZBURG SARAJEVO SEATTLE SEOUL SEVILLE SEVILLA SHANGHAI SINGAPORE SKOPJE SOFIA STOCKHOLM
    STUTTGART SYDNEY TALLINN TAMPERE TARTU TBILISI THESSALONIKI TIRANA TOKYO TORONTO TOULOUSE
    TURIN TORINO UTRECHT VALENCIA VALLETTA VANCOUVER VENICE VENEZIA VIENNA WIEN VILNIUS WARSAW
    WARSZAWA WROCLAW YEREVAN ZAGREB ZURICH
    NEW_YORK LOS_ANGELES SAN_FRANCISCO SAN_DIEGO SAN_JOSE LAS_VEGAS HONG_KONG KUALA_LUMPUR
    BUENOS_AIRES MEXICO_CITY TEL_AVIV SAO_PAULO RIO_DE_JANEIRO CAPE_TOWN ABU_DHABI THE_HAGUE
    DEN_HAAG ST_PETERSBURG SAINT_PETERSBURG
"""
PLACE_NAMES = frozenset(name.replace("_", " ") for name in _PLACE_NAMES.split())
_COUNTRY_CODES = frozenset(
    {c.alpha_2 for c in pycountry.countries} | {c.alpha_3 for c in pycountry.countries}
)
_FACILITATOR_RE = re.compile(r"^(?:" + "|".join(FACILITATOR_PREFIXES) + r")\s*\*\s*")
_WEB_RE = re.compile(r"\b(?:HTTPS?://)?WWW\.|(?<=[A-Z0-9])\.(?:COM|NET|ORG|INFO|BIZ|IO|TEST)\b")
_PHONE_RE = re.compile(r"\+?\(?\d[\d ()./-]{6,}\d")
_PUNCT_RE = re.compile(r"[^A-Z0-9 ]+")
_WIDE_GAP_RE = re.compile(r"\s{2,}")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def _join_initials(tokens: list[str]) -> list[str]:
    # "S A R L" (from "S.A.R.L.") becomes "SARL" so the legal-suffix rule sees it.
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if len(run) > 1:
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if token:
            out.append(token)
    return out


def normalise_descriptor(text: str, *, places: frozenset[str] = frozenset()) -> str:
    """The merchant name inside a card descriptor, in a form variants of one merchant share.

    Upper-cases and strips accents; drops a facilitator prefix ("SQ *", "PAYPAL *"), web
    decoration ("WWW.", ".COM"), the fixed-width tail after a run of two or more spaces,
    phone numbers, ``*`` and other punctuation, trailing store numbers, a trailing country
    code with the city before it, a trailing US state, a trailing known city (``PLACE_NAMES``
    plus ``places``, also when cut short as in "AMSTERD"), and trailing legal-form suffixes
    (LTD, LLC, GMBH, S.A.R.L., ...). Never empty for input holding a letter or digit; raises
    ``InvalidCardFact`` otherwise.
    """
    folded = _fold(text).strip()
    # Fixed-width descriptors put city and country after padding: keep the name field.
    head, *tail = _WIDE_GAP_RE.split(folded, maxsplit=1)
    if tail and sum(c.isalpha() for c in head) >= 3:
        folded = head
    # When every rule below strips everything, the descriptor is its own name.
    fallback = _join_initials(_PUNCT_RE.sub(" ", folded).split())
    folded = _FACILITATOR_RE.sub("", folded)
    folded = _WEB_RE.sub(" ", folded)
    folded = _PHONE_RE.sub(" ", folded)
    tokens = _join_initials(_PUNCT_RE.sub(" ", folded).split())
    known = PLACE_NAMES | {" ".join(_fold(p).split()) for p in places} if places else PLACE_NAMES
    tokens = _strip_tail(tokens, known)
    if not tokens:
        tokens = fallback
    if not tokens:
        raise InvalidCardFact("merchant descriptor", text, "holds no letters or digits")
    return " ".join(tokens)


def _trailing_place(tokens: list[str], places: frozenset[str]) -> int:
    """How many trailing tokens name a place (0 if none); at least one token must remain."""
    for size in (3, 2, 1):
        if len(tokens) > size and " ".join(tokens[-size:]) in places:
            return size
    last = tokens[-1]
    # A city cut short by the descriptor's field width ("AMSTERD"), after a two-word name.
    if (
        len(tokens) >= 3
        and len(last) >= 4
        and any(p.startswith(last) for p in places if " " not in p)
    ):
        return 1
    return 0


def _is_region_code(token: str) -> bool:
    return (token in _COUNTRY_CODES and len(token) <= 3) or token in _US_STATES


def _strip_tail(tokens: list[str], places: frozenset[str]) -> list[str]:
    tokens = tokens[:]
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        last = tokens[-1]
        if any(c.isdigit() for c in last):
            tokens.pop()  # store number, branch code, date-like reference
            if len(tokens) > 1 and tokens[-1] in _STORE_WORDS:
                tokens.pop()  # the word that introduced the number: "STORE 12"
            changed = True
        elif last in LEGAL_SUFFIXES:
            tokens.pop()
            changed = True
        elif _is_region_code(last) and len(tokens) >= 3:
            # "NAME CITY CC" / "NAME CITY ST": the code, then the city before it (a known
            # place of one to three words, or else one word when two words of name remain).
            tokens.pop()
            place = _trailing_place(tokens, places)
            if place:
                del tokens[-place:]
            elif len(tokens) >= 3:
                tokens.pop()
            changed = True
        else:
            place = _trailing_place(tokens, places)
            if place:
                del tokens[-place:]
                changed = True
    return tokens


# ---------------------------------------------------------------- similarity and linking

DEFAULT_DESCRIPTOR_THRESHOLD = 90.0
# A truncated descriptor still names its merchant when enough of the name survives.
_MIN_TRUNCATED = 12


@dataclass(frozen=True)
class DescriptorSimilarity:
    """How alike two descriptors are, with the evidence.

    ``score`` (0-100) is the largest of: ``ratio`` (edit-distance similarity of the normalised
    forms), ``token_sort_ratio`` (the same with words sorted), ``compact_ratio`` (with spaces
    removed, for "ACMEDIGITAL" against "ACME DIGITAL"), and ``truncation_ratio`` (the shorter
    against the same-length start of the longer, counted only when the shorter has at least 12
    characters, for descriptors cut at the field width; otherwise 0).
    """

    a: str
    b: str
    normalised_a: str
    normalised_b: str
    score: float
    ratio: float
    token_sort_ratio: float
    compact_ratio: float
    truncation_ratio: float

    @property
    def rule(self) -> str:
        """Which comparison gave the score."""
        if self.normalised_a == self.normalised_b:
            return "same normalised form"
        best = {
            "ratio": self.ratio,
            "token_sort_ratio": self.token_sort_ratio,
            "compact_ratio": self.compact_ratio,
            "truncation_ratio": self.truncation_ratio,
        }
        return max(best, key=lambda k: best[k])


def _truncation_ratio(compact_a: str, compact_b: str) -> float:
    shorter, longer = sorted((compact_a, compact_b), key=len)
    if len(shorter) < _MIN_TRUNCATED or len(shorter) == len(longer):
        return 0.0
    return float(fuzz.ratio(shorter, longer[: len(shorter)]))


def _compare(a: str, b: str, na: str, nb: str) -> DescriptorSimilarity:
    ca, cb = na.replace(" ", ""), nb.replace(" ", "")
    ratio = float(fuzz.ratio(na, nb))
    token_sort = float(fuzz.token_sort_ratio(na, nb))
    compact = float(fuzz.ratio(ca, cb))
    truncation = _truncation_ratio(ca, cb)
    return DescriptorSimilarity(
        a=a,
        b=b,
        normalised_a=na,
        normalised_b=nb,
        score=round(max(ratio, token_sort, compact, truncation), 2),
        ratio=round(ratio, 2),
        token_sort_ratio=round(token_sort, 2),
        compact_ratio=round(compact, 2),
        truncation_ratio=round(truncation, 2),
    )


def descriptor_similarity(
    a: str, b: str, *, places: frozenset[str] = frozenset()
) -> DescriptorSimilarity:
    """Compare two descriptors after normalisation; symmetric, 100 for the same normalised form."""
    return _compare(
        a, b, normalise_descriptor(a, places=places), normalise_descriptor(b, places=places)
    )


@dataclass(frozen=True)
class DescriptorLinkage:
    """The links between descriptors scoring at least the threshold, and the groups they form.

    ``links`` hold one ``DescriptorSimilarity`` per linked pair of distinct descriptors (the
    evidence), ``a`` sorting before ``b``, ordered by ``(a, b)``. ``groups`` are the connected
    components of the links, each a sorted tuple of the input descriptors, singletons
    included, sorted by their first member.
    """

    threshold: float
    links: tuple[DescriptorSimilarity, ...]
    groups: tuple[tuple[str, ...], ...]


_CHUNK = 512


def link_descriptors(
    descriptors: Iterable[str],
    threshold: float = DEFAULT_DESCRIPTOR_THRESHOLD,
    *,
    places: frozenset[str] = frozenset(),
) -> DescriptorLinkage:
    """Link descriptor variants whose ``descriptor_similarity`` score is at least ``threshold``.

    Every pair of distinct normalised forms is scored (in chunks through rapidfuzz's ``cdist``,
    so thousands of descriptors stay fast); descriptors sharing a normalised form link at 100.
    Raises ``InvalidCardFact`` for a descriptor without letters or digits, ``ValueError`` for a
    threshold outside 0-100.
    """
    if not 0 <= threshold <= 100:
        raise ValueError("threshold must be between 0 and 100")
    raw = sorted(set(descriptors))
    normal = {d: normalise_descriptor(d, places=places) for d in raw}
    forms = sorted(set(normal.values()))
    by_form: dict[str, list[str]] = {}
    for d in raw:
        by_form.setdefault(normal[d], []).append(d)

    form_pairs = _similar_form_pairs(forms, threshold)

    parent = {d: d for d in raw}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: str, y: str) -> None:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    links: list[DescriptorSimilarity] = []
    for members in by_form.values():
        for i, x in enumerate(members):
            for y in members[i + 1 :]:
                links.append(_compare(x, y, normal[x], normal[y]))
                union(x, y)
    for fa, fb in form_pairs:
        for x in by_form[fa]:
            for y in by_form[fb]:
                # Each link reads (a, b) with a < b, whichever form came first.
                similarity = _compare(x, y, fa, fb) if x < y else _compare(y, x, fb, fa)
                if similarity.score >= threshold:
                    links.append(similarity)
                    union(x, y)

    groups: dict[str, list[str]] = {}
    for d in raw:
        groups.setdefault(find(d), []).append(d)
    return DescriptorLinkage(
        threshold=threshold,
        links=tuple(sorted(links, key=lambda s: (s.a, s.b))),
        groups=tuple(sorted(tuple(g) for g in groups.values())),
    )


def _similar_form_pairs(forms: list[str], threshold: float) -> list[tuple[str, str]]:
    """Pairs (i < j) of normalised forms whose score may reach the threshold."""
    if len(forms) < 2:
        return []
    compact = [f.replace(" ", "") for f in forms]
    cutoff = max(0, int(threshold) - 1)  # scores are compared exactly afterwards
    pairs: list[tuple[str, str]] = []
    for start in range(0, len(forms), _CHUNK):
        rows = slice(start, start + _CHUNK)
        best = np.maximum(
            process.cdist(forms[rows], forms, scorer=fuzz.ratio, dtype=np.uint8),
            process.cdist(forms[rows], forms, scorer=fuzz.token_sort_ratio, dtype=np.uint8),
        )
        best = np.maximum(
            best, process.cdist(compact[rows], compact, scorer=fuzz.ratio, dtype=np.uint8)
        )
        for i, j in zip(*np.nonzero(best >= cutoff), strict=True):
            gi = start + int(i)
            if gi < int(j):
                pairs.append((forms[gi], forms[int(j)]))
    pairs.extend(_truncation_pairs(forms, compact, threshold, set(pairs)))
    return pairs


def _truncation_pairs(
    forms: list[str], compact: list[str], threshold: float, seen: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    # partial_ratio bounds the truncation ratio from above (it tries every alignment, the
    # truncation rule only the first), so it is a safe pre-filter.
    long_enough = [i for i, c in enumerate(compact) if len(c) >= _MIN_TRUNCATED]
    if len(long_enough) < 2:
        return []
    texts = [compact[i] for i in long_enough]
    cutoff = max(0, int(threshold) - 1)
    out: list[tuple[str, str]] = []
    for start in range(0, len(texts), _CHUNK):
        scores = process.cdist(
            texts[start : start + _CHUNK], texts, scorer=fuzz.partial_ratio, dtype=np.uint8
        )
        for x, y in zip(*np.nonzero(scores >= cutoff), strict=True):
            i, j = long_enough[start + int(x)], long_enough[int(y)]
            if i >= j:
                continue
            pair = (forms[i], forms[j])
            if pair not in seen and _truncation_ratio(compact[i], compact[j]) >= threshold:
                out.append(pair)
    return out
