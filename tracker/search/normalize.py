"""What the blind index stores of a value, and what a query looks for: normalized tokens, keyed digests.

A value is folded (casefolded, accents stripped, Cyrillic transliterated, a few spelling variants of
transliteration made equal) and cut into tokens:

- `p:` every prefix of 3 to 20 letters of each word (a word shorter than 3 letters: `w:` the word);
- `d:` the digits of a phone-like run (7 or more digits), and each of its endings of 7 digits or more
  (a query looks for its last ten digits, so that "8 912 ..." finds "+7 912 ...");
- `c:` runs of up to four chunks that hold a digit, joined without their spaces, dashes, dots or
  slashes (document and reference numbers: "45 12 345678" and "4512-345678" are one token).

Each token is stored as the first 16 bytes of HMAC-SHA-256 under the search key, never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_PREFIX = 3
MAX_PREFIX = 20
MIN_DIGITS = 7
MAX_DIGITS = 15
DIGEST_BYTES = 16
MAX_QUERY_WORDS = 12

# Cyrillic to Latin: the common passport-style scheme (close to BGN/PCGN and Russia's 2013 passport
# rules), with the letters of Ukrainian, Belarusian and Kazakh that Russian lacks.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh",
    "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u", "ә": "a", "ғ": "g", "қ": "k", "ң": "n",
    "ө": "o", "ұ": "u", "ү": "u", "һ": "h",
}  # fmt: skip
_TRANSLIT = str.maketrans(_CYRILLIC)
# Spellings that transliterations of one name differ by, made equal on both sides: Ivanow/Iwanov,
# Khodorkovsky/Hodorkovsky, Jurij/Yuriy, Aleksandr/Alexandr, Sergey/Sergei/Sergej, Yevgeny/Evgeniy,
# Vorobyov/Vorobiev/Vorobyev/Vorobjov, Fyodor/Fedor.
_VARIANTS = (
    (re.compile("kh"), "h"),
    (re.compile("x"), "ks"),
    (re.compile("w"), "v"),
    (re.compile("j"), "y"),
    (re.compile("y[eo]|ie"), "e"),
    (re.compile("(iy|yy|ii|y)$"), "i"),
)
_WORD = re.compile(r"[^\W_]+")
_PHONE = re.compile(r"\+?[0-9][0-9 \-().]{5,}[0-9]")
_CHUNKS = re.compile(r"[^\W_]+(?:[ \-./][^\W_]+)*")
_CHUNK_SPLIT = re.compile(r"[ \-./]")


def fold(text: str) -> str:
    """Casefolded, without accents, Cyrillic written in Latin letters."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Й and Ё decompose into И/Е with a mark: put them back together before the marks are dropped.
    decomposed = decomposed.replace("и\u0306", "й").replace("е\u0308", "ё")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.translate(_TRANSLIT)


def fold_word(word: str) -> str:
    for pattern, replacement in _VARIANTS:
        word = pattern.sub(replacement, word)
    return word


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return [w for w in (fold_word(w) for w in _WORD.findall(fold(text))) if w]


def _word_tokens(word: str) -> list[str]:
    if len(word) < MIN_PREFIX:
        return ["w:" + word]
    return ["p:" + word[:n] for n in range(MIN_PREFIX, min(len(word), MAX_PREFIX) + 1)]


def value_tokens(text: str) -> set[str]:
    """Every token of one value."""
    tokens: set[str] = set()
    for word in words(text):
        tokens.update(_word_tokens(word))
    for run in _PHONE.findall(text):
        digits = re.sub(r"[^0-9]", "", run)[-MAX_DIGITS:]
        tokens.update("d:" + digits[-n:] for n in range(MIN_DIGITS, len(digits) + 1))
    folded = fold(text)
    for run in _CHUNKS.findall(folded):
        chunks = _CHUNK_SPLIT.split(run)
        for start in range(len(chunks)):
            for end in range(start + 1, min(start + 4, len(chunks)) + 1):
                joined = "".join(chunks[start:end])
                if len(joined) >= 4 and any(c.isdigit() for c in joined):
                    tokens.add("c:" + joined)
    return tokens


def query_tokens(q: str) -> tuple[list[str], list[str]]:
    """What a query looks for: tokens that must all be found (its words), and tokens any one of which
    is enough (the query as one phone number, or as one document number)."""
    # The longest first: a longer prefix is rarer, a good first pick of candidates.
    every = sorted({_word_tokens(w)[-1] for w in words(q)[:MAX_QUERY_WORDS]}, key=lambda t: (-len(t), t))
    any_of: list[str] = []
    stripped = q.strip()
    digits = re.sub(r"[^0-9]", "", stripped)
    if len(digits) >= MIN_DIGITS and re.fullmatch(r"\+?[0-9 \-().]+", stripped):
        # The last ten digits: a number written with another trunk or country prefix still matches.
        any_of.append("d:" + digits[-10:])
    compact = "".join(_CHUNK_SPLIT.split(fold(stripped)))
    if len(compact) >= 4 and any(c.isdigit() for c in compact) and _WORD.fullmatch(compact):
        any_of.append("c:" + compact)
    return every, any_of


def search_key(installation_key: bytes) -> bytes:
    """The key of the blind index, derived from the installation key (HKDF-SHA-256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tracker search index v1")
    return hkdf.derive(installation_key)


def digest(key: bytes, token: str) -> bytes:
    return hmac.new(key, token.encode(), hashlib.sha256).digest()[:DIGEST_BYTES]


def digests(key: bytes, tokens: Iterable[str]) -> list[bytes]:
    return [digest(key, t) for t in tokens]
