"""How emails and names compare (SPEC section 2): the one place that decides whether two
spellings are the same identity.

Both are compared in Unicode NFKC case-folded form, so fullwidth letters (`ａｌｉｃｅ`), composed
and decomposed accents (`é` / `e\u0301`) and case all fold away. An email's domain also goes
through IDNA (UTS #46 mapping, IDNA 2008), so `exámple.com`, `EXÁMPLE.com` and
`xn--exmple-qta.com` are one domain. Names may not contain invisible or bidirectional control
characters at all: they are refused on input, and dropped from the comparison key so that rows
stored before this rule still compare equal to their visible spelling.

The stored email *is* its canonical form (so its plain unique index enforces the rule); a name is
stored as typed (NFKC, trimmed) next to `name_key`, its canonical form, which has the unique index.
"""

import functools
import unicodedata

import idna

# Characters that draw nothing or reorder what is drawn. General categories: control (Cc),
# format (Cf: zero-width space/joiners, LRM/RLM, LRO/RLO/PDF, isolates, BOM, soft hyphen),
# surrogates, private use and unassigned code points, line/paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Letters and marks that Unicode lists as default-ignorable or that render as blank: the Hangul
# fillers, the combining grapheme joiner, Khmer inherent vowels, variation selectors and the
# braille blank, a favourite of look-alike handles.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)


class InvalidIdentity(ValueError):
    """An email or name that cannot be an identity; the message is fit for the user."""


# Pure functions of their argument, memoised: a signup checks its email and name in the
# serializer, the service, create_user and save(), and IDNA (pure Python) took ~0.3 ms per domain
# here, the range scan ~10 µs per character. Domains repeat across users; characters repeat.
@functools.lru_cache(maxsize=8192)
def is_invisible(char: str) -> bool:
    code = ord(char)
    if any(low <= code <= high for low, high in _INVISIBLE_RANGES):
        return True
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES


def _fold(text: str) -> str:
    # NFKC before (compatibility forms such as fullwidth letters) and after (case folding can
    # produce decomposed sequences) the fold: Unicode's canonical caseless match.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


# --- names ----------------------------------------------------------------------------------


def normalize_name(raw) -> str:
    """The stored spelling of a name: NFKC, trimmed. Case is kept, for display."""
    return unicodedata.normalize("NFKC", raw or "").strip()


def validate_name(raw) -> None:
    """InvalidIdentity if the name contains an invisible or direction-control character."""
    if any(is_invisible(char) for char in unicodedata.normalize("NFKC", raw or "")):
        raise InvalidIdentity("Names may not contain invisible or text-direction control characters.")


def name_key(raw) -> str:
    """What two names must share to be the same name: NFKC case-folded, invisibles dropped."""
    visible = "".join(char for char in unicodedata.normalize("NFKC", raw or "") if not is_invisible(char))
    return _fold(visible).strip()


# --- emails ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # an IDNAError is raised again each time: not cached
def _canonical_domain(domain: str) -> str:
    """The domain in lower-case Unicode form, after IDNA's mapping; InvalidIdentity if IDNA
    refuses it (an empty label, a disallowed character, a label over 63 bytes...)."""
    try:
        ascii_form = idna.encode(domain, uts46=True, transitional=False)
        return idna.decode(ascii_form)
    except (idna.IDNAError, UnicodeError, IndexError) as exc:
        raise InvalidIdentity("Enter a valid email address.") from exc


def normalize_email(raw, *, strict: bool = True) -> str:
    """The one stored and compared spelling of an email.

    The local part is NFKC case-folded; the domain goes through IDNA and is kept in its Unicode
    form. `strict=False` (for looking an email up, e.g. at login) never raises: a domain IDNA
    refuses is only folded, so the lookup finds nothing instead of failing.
    """
    email = (raw or "").strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return _fold(email)
    local = _fold(local)
    try:
        domain = _canonical_domain(domain)
    except InvalidIdentity:
        if strict:
            raise
        domain = _fold(domain)
    return f"{local}@{domain}"


def search_key(raw) -> str:
    """A search term in the form names and emails are compared in."""
    return name_key(raw)
