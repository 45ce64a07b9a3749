"""The token never leaves this process: how answers and messages are cleaned of it, and cheaply.

``redact`` and ``redact_json`` blank the secret (and the password of ``user:password``, as a word) in
text and in parsed JSON, in any letter case (a gateway may upper-case what it echoes: a hex key loses
nothing), escaped more than once, URL-encoded, as HTML character references, and these one after another
(JSON-escaped then URL-encoded: ``%5C%22``); a "+" also as a space, as a gateway reads a form back. Not
base64, nor letters and digits encoded (no common encoder writes them so; they keep the anchor that the
scans look for), nor an HTML reference of the "%" of a URL-encoding (``&#37;22``). What is left of an echo of the
API key cut short or masked in its middle is blanked too: where a text holds the first 12 characters of the key's
longest run of letters and digits (of a hex key, the key's), every run of 12 or more of its characters. Of
``user:password`` cut short, what follows ``user:`` (its colon in any spelling) of the password's start (4 characters
or more).

On its way out (``redact``, ``output_may_show``, ``redact_output``), an echo broken apart where a reader joins it back
is blanked too (``_Scattered``): a line wrapped inside it, a zero-width space, an HTML ``<wbr>``, a few characters
masked, letters escaped or full-width. Not base64.

``SecretScan`` reads an answer's bytes as they arrive and says whether any string in them may spell a piece
of the secret; when it cannot, the answer skips ``redact_json``. ``may_show_secret`` asks the same of
records already decoded.
"""

from __future__ import annotations

import copy
import functools
import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import msgspec

from .records import WireRecord, map_strings

# Self-hosted Milvus's documented default login. Its password hides nothing, and blanking it alone would
# turn every "Milvus ..." in an error message into "*** ..."; the whole token stays hidden.
_PUBLIC_LOGINS = frozenset({"root:milvus"})  # lower-cased: the password is looked for in any case


def _password(secret: str) -> str:
    """The password of ``user:password``, when it can be told from ordinary text (4 characters or more).

    The user name is not a secret: blanking it ("root") would garble collection names and messages
    ("ext_rootfs", "rootcoord") and hide nothing.
    """
    _, sep, password = secret.partition(":")
    return password if sep and len(password) >= 4 and secret.lower() not in _PUBLIC_LOGINS else ""


# What no URL-encoder or HTML escaper writes otherwise ("-", "." and "~" have been seen escaped).
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")
_MIN_ANCHOR = 4  # a shorter anchor would be found in most texts: then every text is cleaned
# A piece of the key this long is blanked where an answer holds its start: an echo cut short, or masked in its
# middle. Shorter runs are left: a hash or an id may share a few characters with a key.
_PIECE_CHARS = 12


# Escaped once or more (JSON, Go's %q, a repr; JSON quoted again, a repr of that), a backslash is one to
# _ESCAPES backslashes: a bounded repeat, so that a long run of backslashes is matched in linear time.
_ESCAPES = 8
_BACKSLASHES = rf"\\{{1,{_ESCAPES}}}"
# Characters escaped with a backslash before them ("\"", "\/"); any is also escaped as \uXXXX.
_ESCAPED = "\"'/"
# A space is "+" in a form, and a "+" is a space once a gateway reads the form: each is spelled as either.
_FORM_ALIKE = {" ": " +", "+": "+ "}
# Blanks: spaces and "+" signs, each spelled as the other; as they are, also any white space: a message wrapped
# where the password has a space shows it whole once its lines are joined (as tool errors and text lines join them).
_BLANK_RUN = re.compile(r"[+ ]+")  # in a secret: other white space is no blank, and keeps its own escapes
_BLANK_WIDTH = 2 * _ESCAPES + 2  # characters one blank may take as it is: a line break between indentations


# What an HTML escaper names (html.escape, Go's html.EscapeString); other characters are numbered.
_HTML_NAMES = {'"': "quot", "'": "apos", "&": "amp", "<": "lt", ">": "gt"}


def _hex(digits: str) -> str:
    """A pattern for hex ``digits`` in either case: ``7E`` is ``7[Ee]``."""
    return "".join(f"[{d}{d.lower()}]" if d in "ABCDEF" else d for d in digits)


def _percent_encoded(char: str) -> str:
    """A pattern for ``char``'s UTF-8 bytes percent-encoded, also encoded again (``%2541``: a URL in a URL), up to
    _ESCAPES times: bounded, as every form that begins with "%" (a character has several) reads a run of "25"."""
    return "".join(f"%(?:25){{0,{_ESCAPES}}}{_hex(f'{byte:02X}')}" for byte in char.encode())


def _html_references(char: str) -> list[str]:
    """Patterns for ``char`` as an HTML character reference: numbered (decimal, or hex in either case, with any
    leading zeros) or named; escaped again (``&amp;#39;``), or URL-encoded after (a page's text in a URL)."""
    amp = f"(?:&(?:amp;){{0,{_ESCAPES}}}|{_percent_encoded('&')})"
    number, end = (f"(?:{_percent_encoded(mark)}|{re.escape(mark)})" for mark in "#;")
    code = ord(char)
    # "0*" reads a run of zeros only after the "&#" before it, which it does not hold: in linear time.
    references = [f"{amp}{number}0*{code}{end}", f"{amp}{number}[Xx]0*{_hex(f'{code:X}')}{end}"]
    if char in _HTML_NAMES:
        references.append(f"{amp}{_HTML_NAMES[char]}{end}")
    return references


def _encoded(char: str) -> str:
    """A pattern for a character other than a letter or digit as URL-encoders and HTML escapers write it, one
    after the other in either order: a character reference (first: "%26amp%3B" begins with "&" URL-encoded) or
    percent-encoded; a space or "+" as either."""
    forms: list[str] = []
    for alike in _FORM_ALIKE.get(char, char):
        forms += [*_html_references(alike), _percent_encoded(alike)]
    return f"(?:{'|'.join(forms)})"


def _written(char: str) -> str:
    """A pattern for a character other than a letter or digit encoded or as it is (the longer forms first: "%"
    must not match the start of its own encoding, "%25")."""
    return f"(?:{_encoded(char)}|{re.escape(char)})"


def _backslash_run(fewest: int, most: int, *, lazy: bool = False) -> str:
    """A pattern for ``fewest`` to ``most`` backslashes, all as they are or all encoded ("%5C%22" is "\"" in a
    URL): an encoder writes every one alike, and a repeat of one character is the regex engine's fastest."""
    fewest_first = "?" if lazy else ""
    return f"(?:\\\\{{{fewest},{most}}}{fewest_first}|{_encoded(chr(92))}{{{fewest},{most}}}{fewest_first})"


# A backslash that escapes a character, once or more, then maybe URL-encoded or HTML-escaped in turn.
_ESCAPE = _backslash_run(1, _ESCAPES)


def _char(char: str) -> str:
    """A pattern for one character in every form an echo may give it: escaped, ``\\uXXXX`` (JSON in a string, as
    Go writes ``&``), as a URL-encoder or an HTML escaper writes it.

    A letter or digit is left as it is by all of these, but for a ``\\u`` escape as JSON writes it: so every
    spelling of the anchor (``_anchor``) holds it as it is, or a ``\\u`` escape, which the scans look for."""
    hex_code = _hex(f"{ord(char):04X}")
    if char.isascii() and char.isalnum():
        return f"(?:{_BACKSLASHES}u{hex_code}|{char})"
    escaped = [_ESCAPE + _written(char)] if char in _ESCAPED else []
    return f"(?:{'|'.join([*escaped, _ESCAPE + 'u' + hex_code, _written(char)])})"


def _backslashes(count: int, *, last: bool) -> str:
    """A run of backslashes, each as it is or escaped (doubled, or more): one bounded repeat, not a choice per
    backslash, whose backtracking over a long run of backslashes would take exponential time. Fewest first, but
    for the ``last`` characters of the secret: a backslash after the run may begin the escape of the secret's next
    character ("\\\\u0055", a backslash and "U")."""
    return f"(?:{_backslash_run(count, _ESCAPES * count, lazy=not last)}|(?:{_ESCAPE}u005[Cc]){{{count}}})"


def _spelled(text: str) -> str:
    """A pattern for ``text`` as written or as any common encoder writes it, each character in each of its
    forms. Encoders differ in what they leave as it is (``quote``, ``quote_plus``, ``encodeURIComponent``,
    ``encodeURI``, ``URLSearchParams``, Java's ``URLEncoder``, JSON, Go's ``%q``, a repr, ``html.escape``);
    matching every character in every form matches all of them, one after another, with one pattern."""
    runs = re.finditer(r"\\+|[+ ]+|[^\\]", text)
    return "".join(
        _backslashes(len(run[0]), last=run.end() == len(text))
        if run[0][0] == "\\"
        else _blanks(len(run[0]), inner=0 < run.start() < run.end() < len(text))
        if _BLANK_RUN.fullmatch(run[0])
        else _char(run[0])
        for run in runs
    )


def _blanks(count: int, *, inner: bool) -> str:
    """A pattern for a run of ``count`` blanks of the secret: each as it is, as the other, as white space, encoded,
    or as an escaped line break (a log line, a repr); ``inner`` (between other characters of the secret), also a
    line break with the indentation around it."""
    return _repeat(f"(?:{_encoded(' ')}|{_ESCAPE}(?:u00(?:20|2[Bb])|[rnt])|[+\\s])", count, inner=inner)


def _repeat(unit: str, count: int, *, inner: bool) -> str:
    """``count`` of ``unit``, or up to ``_BLANK_WIDTH`` times that many when ``inner``: one bounded repeat, not a
    choice per blank, as choices side by side that can each take the same characters backtrack exponentially. At
    either end of the secret, exactly ``count``: a wider run there would take the white space beside it."""
    return f"{unit}{{{count},{count * _BLANK_WIDTH}}}" if inner else f"{unit}{{{count}}}"


def _as_typed(text: str) -> str:
    """A pattern for ``text`` as written: still ordinary text. Its spaces as any white space (a line wrapped there),
    and a run with a "+" also as spaces (a form a gateway read back); but a space written as "+" is an encoding,
    blanked wherever it stands."""
    parts = []
    for run in re.finditer(r"[+ ]+|[^+ ]+", text):
        piece, inner = run[0], 0 < run.start() < run.end() < len(text)
        if _BLANK_RUN.fullmatch(piece):
            parts.append(_repeat(r"[+\s]" if "+" in piece else r"\s", len(piece), inner=inner))
        else:
            parts.append(re.escape(piece))
    return "".join(parts)


@functools.lru_cache(maxsize=8)
def _anchor(secret: str) -> str | None:
    """Text that every spelling of the secret, and of its password alone, holds as it is: the start (its first
    ``_PIECE_CHARS``) of the password's (else the secret's) longest run of letters and digits, which URL-encoders
    and HTML escapers leave as they are, and which an echo of the key cut short holds too. ``""`` when that run is
    too short to tell (every text may hold it); None when there is no secret.

    Not the user name's run: no secret, it would send every answer that names the user to the cleaning."""
    text = _password(secret) or secret
    if not text:
        return None
    run = max(_ALNUM_RUN.findall(text), key=len, default="")
    return run[:_PIECE_CHARS] if len(run) >= _MIN_ANCHOR else ""


def _pieces(secret: str) -> frozenset[str]:
    """Every ``_PIECE_CHARS`` characters in a row of an API key's runs of letters and digits, lower-cased; none for
    ``user:password``, whose password a person chose: a piece of "Administrator2024" is a word of many messages."""
    if ":" in secret:
        return frozenset()
    runs = _ALNUM_RUN.findall(secret.lower())
    return frozenset(run[at : at + _PIECE_CHARS] for run in runs for at in range(len(run) - _PIECE_CHARS + 1))


class _LoginEcho(NamedTuple):
    """An echo of ``user:password`` cut short, or masked after its start: ``user:`` (its ":" in any spelling), then
    the password's first 4 characters or more. The user name before them tells the echo from a word that the
    password begins with ("Administrator2024")."""

    user: str  # lower-cased: what a text must hold to be looked at
    start: re.Pattern[str]  # the user, its colon, the password's first characters (group 1)
    password: str  # lower-cased, to follow the echo as far as it goes

    def blanked(self, text: str) -> str:
        """``text`` with the password's part of each echo replaced by ``***``."""
        kept: list[str] = []
        done = 0
        for match in self.start.finditer(text):
            if match.start(1) < done:  # inside an echo already blanked (a password that holds "user:" and its start)
                continue
            end, at = match.end(1), _MIN_ANCHOR
            # Compared a character at a time: a pattern of the password as optional groups nests once per character.
            while end < len(text) and at < len(self.password) and text[end].lower() == self.password[at]:
                end, at = end + 1, at + 1
            kept += [text[done : match.start(1)], "***"]
            done = end
        return "".join(kept) + text[done:] if kept else text


@functools.lru_cache(maxsize=8)
def _login_echo(secret: str) -> _LoginEcho | None:
    """How an echo of a ``user:password`` secret cut short is found; None for any other secret."""
    password = _password(secret)
    user = secret[: len(secret) - len(password) - 1]
    # No user name (":password"): a colon alone would be looked for in every text. "İ" lower-cases to two characters.
    if not password or not user or len(password.lower()) != len(password):
        return None
    # The colon in any spelling the whole secret is looked for in: "%253A" (a URL in a URL), "&#58;", "\\u003a".
    start = re.compile(f"{re.escape(user)}{_char(':')}({re.escape(password[:_MIN_ANCHOR])})", re.IGNORECASE)
    return _LoginEcho(user.lower(), start, password.lower())


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# An escape that a blanked span must not begin inside: its letter or digits are not the key's, whatever they match.
_ONE_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[0-7]{3}|.)")


# The documented field names of the answers: public, never renamed for a password that is the same word ("data").
_FIELD_NAMES = frozenset({"code", "message", "data", "records"}) | frozenset(
    field.encode_name for field in msgspec.structs.fields(WireRecord)
)
_WORD = "A-Za-z0-9_"


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"


class _Blanker:
    """Replaces the secret by ``***`` wherever it appears; and the password of ``user:password`` where it
    stands as a word of its own, never inside a longer word, name or number, nor as a documented field name.

    A password can be an everyday word ("Refresh", "data", "1234"): blanked everywhere, it renamed the
    field ``data``, turned "RefreshFailed" into "***Failed" (so failures went uncounted) and cut job ids.
    An echo of it alone stands apart from letters and digits ("password=...", "user: ..."); an echo of the
    whole secret is blanked wherever it is.
    """

    def __init__(self, secret: str) -> None:
        self.active = bool(secret)
        self._password = password = _password(secret)
        # What every text that holds the password as typed (``_as_typed``) holds as it is: its longest piece between
        # spaces and "+" signs ("" for a password of spaces alone: then every text is looked at).
        self._password_piece = max(re.split(r"[+ ]+", password.lower()), key=len) if password else ""
        self._as_typed = re.compile(_as_typed(password), re.IGNORECASE)
        anchor = _anchor(secret)
        # Looked for in lower-cased text: a case-blind regular expression scans ~20x slower than `in`.
        self._anchor = None if anchor is None else anchor.lower()
        self._pieces = _pieces(secret)
        self._login_echo = _login_echo(secret)
        self._secret = re.compile(_spelled(secret), re.IGNORECASE) if secret else None
        self._spelled_password = re.compile(_spelled(password), re.IGNORECASE) if password else None
        # A word boundary only where the password itself begins or ends with a word character. An escape
        # ends a word too: "%3Dhunter2024" is "=hunter2024" URL-encoded; "\\u0022hunter2024", a quote before it;
        # "\\nhunter2024", a line break written out (JSON, a repr, Go's %q: a credentials file quoted), as in
        # "\\x0a" and "\\012".
        pct, uni = r"%[0-9A-Fa-f]{2}", r"\\u[0-9A-Fa-f]{4}"
        escapes = (pct, uni, r"\\[abfnrtv0]", r"\\x[0-9A-Fa-f]{2}", r"\\[0-7]{3}")
        after_escape = "".join(f"|(?<={escape})" for escape in escapes)
        before = rf"(?:(?<![{_WORD}]){after_escape})" if _wordy(password[:1]) else ""
        after = rf"(?:(?![{_WORD}])|(?={pct}|{uni}))" if _wordy(password[-1:]) else ""
        self._word = re.compile(before + _as_typed(password) + after, re.IGNORECASE)

    def text(self, text: str) -> str:
        return self._as_word(self._whole(text))

    def key(self, key: str) -> str:
        """A field name: the whole secret is blanked in any; the password as a word, in all but the documented."""
        key = self._whole(key)
        return key if key in _FIELD_NAMES else self._as_word(key)

    def _whole(self, text: str) -> str:
        """The secret in any spelling, and the password in any spelling but as written (``_as_word`` decides)."""
        if self._secret is None or self._anchor is None:
            return text
        lowered = text.lower()
        holds_anchor = self._anchor in lowered
        holds_login = self._login_echo is not None and self._login_echo.user in lowered
        if not holds_anchor and not holds_login and "\\u" not in text:  # an escape may spell a piece of the anchor
            return text
        text = self._secret.sub("***", text)
        if self._spelled_password is not None:
            text = self._spelled_password.sub(self._unless_as_written, text)
        if holds_login and self._login_echo is not None:  # what is left of an echo of the secret cut short
            text = self._login_echo.blanked(text)
        # Looked for before the whole key was blanked: "<key> (fingerprint ...<its last 30>)" shows a piece too.
        return self._without_pieces(text) if self._pieces and holds_anchor else text

    def _without_pieces(self, text: str) -> str:
        """``text`` with every run of ``_PIECE_CHARS`` or more of the key's characters blanked (in any case): what
        is left of an echo of it cut short or masked in its middle, once its start is seen to be there."""
        lowered = text.translate(_ASCII_LOWER)  # as long as ``text``: str.lower makes "İ" two characters
        spans: list[tuple[int, int]] = []
        for piece in self._pieces:  # ~50 C-level searches: a loop over each character took 0.6 s for 2 MB
            at = lowered.find(piece)
            while at >= 0:
                spans.append((at, at + _PIECE_CHARS))
                at = lowered.find(piece, at + 1)
        return _with_blanks(text, [(self._past_escape(text, start), stop) for start, stop in _merged(spans)])

    @staticmethod
    def _past_escape(text: str, start: int) -> int:
        """``start``, or the end of an escape it falls inside ("\\n" of "\\nA1b2..."): blanked from there, the
        text keeps its escapes whole, and JSON in it stays JSON."""
        for at in range(max(0, start - 5), start):
            if text[at] == "\\" and (escape := _ONE_ESCAPE.match(text, at)) and escape.end() > start:
                return escape.end()
        return start

    def _unless_as_written(self, match: re.Match[str]) -> str:
        return match[0] if self._as_typed.fullmatch(match[0]) else "***"

    def _as_word(self, text: str) -> str:
        if self._password and self._password_piece in text.lower():
            return self._word.sub("***", text)
        return text

    def json_text(self, text: str) -> str:
        """``text`` cleaned; and, when it is itself JSON with escapes (``externalSource`` is JSON in a string,
        and Go writes ``&`` as ``\\u0026``), cleaned of what those escapes spell once it is decoded."""
        text = self.text(text)
        if "\\" not in text or text.lstrip()[:1] not in ("{", "["):
            return text
        try:
            inner = json.loads(text)
        except (ValueError, RecursionError):
            return text
        before = json.dumps(inner)
        after = json.dumps(map_strings(inner, self.json_text, self.key))
        return text if after == before else after  # rewritten only when it spelled the secret


@functools.lru_cache(maxsize=8)
def _blanker(secret: str) -> _Blanker:
    """One per secret: the log handler redacts every line, and building one encodes and compiles."""
    return _Blanker(secret)


# --- echoes broken apart -----------------------------------------------------------------------------------------
# A reader joins back what a text puts between the characters of a key: a line wrapped inside it, a zero-width space
# or a soft hyphen, an HTML <wbr> or comment, a terminal colour, a mask over a few of its characters; and reads an
# escape of a letter or digit as that letter, an escape of an escape too. The search does the same: it decodes a
# text (``_decoded``), then squeezes it to its letters and digits, lower-cased (``_squeezed``).
_PASSWORD_PIECE_CHARS = 16
_BY_CHANCE = 3  # characters beside an echo that may go on as the key does: 1 in 36^3 for 3
_LAYERS = 4  # escapes of escapes decoded: "\u0026#51;" is "&#51;", which is "3"
_BREAK_ESCAPES = "nrtvbf0"  # "\n" and its kind: a break a reader sees, not a letter


def _dropped(_: re.Match[str]) -> str:
    return ""


def _backslashed(escape: re.Match[str]) -> str:
    if code := escape[1] or escape[2] or escape[3]:
        return _character(int(code, 16))
    return " " if escape[0][-1] in _BREAK_ESCAPES else escape[0][-1]


def _percent_escape(escape: re.Match[str]) -> str:
    """A "%u0063", or a run of URL-encoded bytes read as UTF-8 ("%E2%80%8B" is one zero-width space, not three
    letters)."""
    if escape[1]:
        return _character(int(escape[1], 16))
    return bytes(int(byte, 16) for byte in _PERCENT_BYTE.findall(escape[0])).decode("utf-8", "replace")


def _ampersand(escape: re.Match[str]) -> str:
    if code := escape["hex"] or escape["decimal"]:
        return _character(int(code, 16 if escape["hex"] else 10))
    return html.unescape(escape[0])  # a named one: "&shy;", "&lt;"


def _character(code: int) -> str:
    return chr(code) if code < 0x110000 else ""


# Each kind apart, looked for only where its first character is (a pattern that begins with one character is searched
# for ~10x faster than one of several kinds), in this order, in both of _decoded's ways.
_PASSES: tuple[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    ("<", re.compile(r"<[A-Za-z/!][^<>]{0,200}>"), _dropped),  # a tag or a comment
    ("\x1b", re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]"), _dropped),  # a terminal's colour or cursor
    ("\\", re.compile(r"\\\\*(?:u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2})|U([0-9A-Fa-f]{8})|[nrtvbf0\"'/\\])"), _backslashed),
    (
        "%",
        re.compile(r"%(?:(?:25)*u([0-9A-Fa-f]{4})|(?:25)*[0-9A-Fa-f]{2}(?:%(?:25)*[0-9A-Fa-f]{2})*)"),
        _percent_escape,
    ),
    (
        "&",
        re.compile(
            r"&(?:(?:amp;)*#(?:[Xx]0*(?P<hex>[0-9A-Fa-f]{1,6})|0*(?P<decimal>[0-9]{1,7}))|[A-Za-z][A-Za-z0-9]{1,31});"
        ),
        _ampersand,
    ),
)
_PERCENT_BYTE = re.compile(r"%(?:25)*([0-9A-Fa-f]{2})")
# Letters of other scripts that look like Latin ones and that Unicode does not fold to them (Cyrillic, Greek).
_LOOKALIKES = str.maketrans(
    "асеіјорѕхуАВСЕНІЈКМОРЅТХУΑΒΕΗΙΚΜΝΟΡΤΧΥΖοκνρτυχ", "aceijopsxyABCEHIJKMOPSTXYABEHIKMNOPTXYZokvptux"
)
# A "*" stays, as a break no echo runs across: "***" is where an echo was blanked, and a reader does not join what is
# on either side of it to read the key ("9f7b3d, ***, 5a2c8e").
_LETTERS_AND_DIGITS = re.compile(r"[A-Za-z0-9*]+|[^\x00-\x7f]")
_SQUEEZED_CHARS = b"0123456789abcdefghijklmnopqrstuvwxyz*"
_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_NOT_SQUEEZED = bytes(byte for byte in range(256) if byte not in _SQUEEZED_CHARS + _SQUEEZED_CHARS.upper())


def _decoded(text: str, layers: int = _LAYERS) -> str:
    """``text`` as a reader reads it: escapes decoded, layer after layer; tags and terminal codes gone."""
    for _ in range(layers):
        before = text
        for lead, pattern, decode in _PASSES:
            if lead in text:
                text = pattern.sub(decode, text)
        if text == before:
            break
    return text


def _squeezed(text: str, layers: int = _LAYERS) -> str:
    """The letters and digits of ``_decoded(text)``, lower-cased ASCII (other scripts read as ASCII where Unicode
    says they are the same letter: a full-width A is an A; an accent is dropped, its letter kept), and its "*"."""
    text = _decoded(text, layers)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_LOOKALIKES))
    return text.encode("ascii", "ignore").translate(_LOWER, _NOT_SQUEEZED).decode("ascii")


class _Mapped(NamedTuple):
    """``_decoded(text)`` and ``_squeezed(text)``, each character of either told by where it came from in ``text``."""

    decoded: str
    starts: list[int]  # where each character of ``decoded`` begins in ``text``
    ends: list[int]  # and ends
    squeezed: str
    at: list[int]  # the index in ``decoded`` of each character of ``squeezed``


def _mapped(text: str) -> _Mapped:
    """``_decoded`` and ``_squeezed`` of ``text`` (the same passes, in the same order), keeping where each character
    came from: only for a text that holds an echo (a Python step per escape and per run of letters)."""
    starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
    for _ in range(_LAYERS):
        before = text
        for lead, pattern, decode in _PASSES:
            if lead not in text:
                continue
            pieces: list[str] = []
            new_starts: list[int] = []
            new_ends: list[int] = []
            done = 0
            for escape in pattern.finditer(text):
                first, last = escape.span()
                read = decode(escape)
                pieces += [text[done:first], read]
                new_starts += starts[done:first] + [starts[first]] * len(read)
                new_ends += ends[done:first] + [ends[last - 1]] * len(read)
                done = last
            if pieces:
                text = "".join([*pieces, text[done:]])
                starts, ends = new_starts + starts[done:], new_ends + ends[done:]
        if text == before:
            break
    squeezed: list[str] = []
    at: list[int] = []
    for run in _LETTERS_AND_DIGITS.finditer(text):
        if run[0].isascii():
            squeezed.append(run[0].lower())
            at += range(run.start(), run.end())
        else:
            read = _squeezed(run[0])
            squeezed.append(read)
            at += [run.start()] * len(read)
    return _Mapped(text, starts, ends, "".join(squeezed), at)


class _Scattered:
    """Finds the key's characters where a reader would join them back (``_squeezed``): any ``_PIECE_CHARS`` of an
    API key in a row; of the password of ``user:password``, 3/4 of it in a row and at least ``_PASSWORD_PIECE_CHARS``
    (a shorter piece of a password a person chose may be a word: "Administrator2024"), or the whole of a shorter one,
    standing apart from other letters and digits as a reader reads them.

    Asked of every answer that leaves the server and every message: squeezing a 4 kB answer and ~10 searches
    for the key's chunks take ~50 us. Blanking, only when an echo is there, maps the squeezed text back.
    """

    def __init__(self, secret: str) -> None:
        login = ":" in secret
        self._apart_only = login  # a password a person chose may be words; an echo of it stands apart
        target = _squeezed(_password(secret) if login else secret)
        self._target = target if len(target) >= _PIECE_CHARS else ""
        self._width = _PIECE_CHARS
        if login and len(target) >= _PASSWORD_PIECE_CHARS:
            self._width = max(_PASSWORD_PIECE_CHARS, -(-3 * len(target) // 4))
        elif login:
            self._width = len(target)
        # Every run of ``_width`` holds one of these whole: a search for each finds every run.
        self._chunk = max(1, self._width // 2)
        at_each = range(0, len(self._target) - self._chunk + 1, self._chunk)
        self._chunks = [self._target[at : at + self._chunk] for at in at_each]

    def found_in(self, text: str, layers: int = _LAYERS) -> bool:
        """Whether ``text`` holds an echo; ``layers``: of escapes to decode (one more for a text written as JSON)."""
        if not self._target:
            return False
        squeezed = _squeezed(text, layers)  # a short text may read longer: "⑳" is "20"
        return any(chunk in squeezed for chunk in self._chunks) and bool(self._echoes(squeezed))

    def blanked(self, text: str) -> str:
        """``text`` with each echo, from its first character to its last and what lies between, made ``***``."""
        if not self.found_in(text):
            return text
        mapped = _mapped(text)
        spans: list[tuple[int, int]] = []
        for first, last in self._echoes(mapped.squeezed):
            if not self._apart_only:
                first, last = _without_ends_by_chance(mapped, first, last)
            elif not _apart(mapped, first, last):  # (the password's own "_" or "ß" beside it is no gap: not trimmed)
                continue  # a password's words inside longer ones ("auto correct horses"): no echo of it
            # Merged: a character read as two ("ﬁ") may hold the ends of two echoes.
            spans.append((mapped.starts[mapped.at[first]], mapped.ends[mapped.at[last - 1]]))
        return _with_blanks(text, _merged(spans))

    def _echoes(self, squeezed: str) -> list[tuple[int, int]]:
        """Where ``squeezed`` holds a run of the secret as long as ``_width`` or longer, merged."""
        target, width, chunk_chars = self._target, self._width, self._chunk
        found: list[tuple[int, int]] = []
        for index, chunk in enumerate(self._chunks):
            at = squeezed.find(chunk)
            while at >= 0:
                # The runs of the secret that hold this chunk: each starts up to a chunk's length before it.
                for back in range(chunk_chars + 1):
                    start, key_start = at - back, index * chunk_chars - back
                    in_both = start >= 0 and 0 <= key_start <= len(target) - width
                    if in_both and squeezed[start : start + width] == target[key_start : key_start + width]:
                        found.append((start, start + width))
                at = squeezed.find(chunk, at + 1)
        return _merged(found)


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (start, end) in order, each run of them that overlap or touch made one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _with_blanks(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each of ``spans`` (in order, apart) made ``***``: in one pass, as echoes may be thousands."""
    kept, done = [], 0
    for start, end in spans:
        kept += [text[done:start], "***"]
        done = end
    return "".join([*kept, text[done:]])


def _without_ends_by_chance(mapped: _Mapped, first: int, last: int) -> tuple[int, int]:
    """The squeezed echo ``first:last`` without a few characters at an end that lie apart from the rest: the word
    after "<key> refused" may begin as the key went on ("r"), by chance. What is left shown is too short to matter."""
    at = mapped.at

    def apart(index: int) -> bool:  # something a reader skips lies between this squeezed character and the one before
        return at[index] > at[index - 1] + 1

    for index in range(first + 1, min(first + _BY_CHANCE + 1, last)):
        if apart(index):
            first = index
    for index in range(last - 1, max(last - _BY_CHANCE - 1, first), -1):
        if apart(index):
            last = index
    return first, last


def _apart(mapped: _Mapped, first: int, last: int) -> bool:
    """Whether the squeezed echo ``first:last`` stands apart from other letters and digits, as a reader reads them:
    ASCII ones, which the squeezed text keeps (a password's own "_" or "ß" may stand beside what it kept of it)."""
    before, after = mapped.at[first] - 1, mapped.at[last - 1] + 1
    return not (before >= 0 and _ascii_alnum(mapped.decoded[before])) and not (
        after < len(mapped.decoded) and _ascii_alnum(mapped.decoded[after])
    )


def _ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


@functools.lru_cache(maxsize=8)
def _scattered(secret: str) -> _Scattered:
    return _Scattered(secret)


def redact(text: str, secret: str) -> str:
    """``text`` with the secret, and the password of a ``user:password`` secret as a word, replaced by ``***``;
    and an echo of the key broken apart (``_Scattered``)."""
    return _scattered(secret).blanked(_blanker(secret).text(text)) if secret else text


def output_may_show(json_text: str, secret: str) -> bool:
    """Whether an answer that leaves the server, as JSON, may show the secret or a piece of it that ``redact``
    blanks: an echo broken apart (``_Scattered``), the key's start, or the user name of a login (an echo cut short).

    The answers' strings were cleaned on the way in when the bytes upstream sent could spell the secret; an echo
    broken apart could not be seen there without slowing every answer, and is looked for here, in the few kB that
    leave (~40 us for a 4-job answer)."""
    if not secret:
        return False
    lowered = json_text.lower()
    anchor, login = _anchor(secret), _login_echo(secret)
    return (
        _scattered(secret).found_in(json_text, _LAYERS + 1)  # JSON escapes a text once more: "\\u001b" for ESC
        or (anchor is not None and anchor.lower() in lowered)
        or (login is not None and login.user in lowered)
    )


def redact_output(value: Any, secret: str) -> Any:
    """A cleaned copy of an answer's JSON (dicts, lists, strings): every string and key as ``redact`` cleans one."""
    return map_strings(copy.deepcopy(value), lambda text: redact(text, secret))


def redact_json(value: Any, secret: str) -> Any:
    """Parsed JSON with ``redact`` applied to every string, keys included but for the documented field names
    (in place; any depth)."""
    blanker = _blanker(secret)
    return map_strings(value, blanker.json_text, blanker.key) if blanker.active else value


# A \u escape of a letter or digit: of what the anchor is made. Others are common and spell no piece of it: Go
# writes "<nil>" as "\u003cnil\u003e", and "&" as "\u0026"; other encoders escape every non-ASCII character.
# And of a backslash, which may begin an escape of JSON inside a string: "\u005cu0068" is "\u0068" there, "h".
_ALNUM_ESCAPE = re.compile(rb"\\u00(?:3[0-9]|[46][1-9A-Fa-f]|5[0-9AaCc]|7[0-9Aa])")  # 0-9, A-Z, \\, a-z
_ALNUM_ESCAPE_BYTES = 6


class SecretScan:
    """Whether any string decoded from an answer's JSON text may spell the secret, read chunk by chunk.

    False lets the common answer skip ``redact_json`` (a walk over every string: ~45 ms for 10,000 jobs).
    It looks for the anchor (``_anchor``): every spelling of the secret holds it as it is, and JSON text
    can write its characters otherwise only with a ``\\u`` escape, so an escape of a letter or digit counts as
    found; so does a NUL (the standard parser also reads UTF-16 and UTF-32). Fed while the answer is still
    arriving, its ~3 ms for a 2.4 MB answer are mostly spent waiting for the network, not after it.
    """

    def __init__(self, secret: str) -> None:
        anchor = _anchor(secret)
        self._needles = _needles(secret)  # looked for in lower-cased bytes
        self.found = anchor == ""  # too short to look for: every answer is cleaned
        # A match may start in the previous chunk.
        self._keep = max([_ALNUM_ESCAPE_BYTES, *(len(needle) for needle in self._needles)]) - 1
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self.found or not self._needles:
            return
        window = self._tail + chunk
        if b"\x00" in window or _ALNUM_ESCAPE.search(window) or _holds_any(window.lower(), self._needles):
            self.found = True
        self._tail = window[-self._keep :]


@functools.lru_cache(maxsize=8)
def _needles(secret: str) -> tuple[bytes, ...]:
    """What an answer that may spell the secret holds, lower-cased: the anchor; for ``user:password``, also the user
    name and the start of its colon (an echo of the secret cut short before the anchor's end holds them), in any
    spelling ``_char`` gives it: ``:`` as it is, or an escape, whose first character is ``%`` (``%3A``, ``%253A``, a
    URL in a URL), ``&`` (``&#58;``) or a backslash (``\\u003a``). None at all when no secret, or when the anchor is too
    short to look for (then every answer is cleaned)."""
    anchor = _anchor(secret)
    if not anchor:
        return ()
    needles = [anchor.lower().encode()]
    if (login := _login_echo(secret)) is not None:
        needles += [f"{login.user}{start}".encode() for start in (":", "%", "&", "\\")]
    return tuple(needles)


def _holds_any(lowered: bytes, needles: tuple[bytes, ...]) -> bool:
    return any(needle in lowered for needle in needles)


_ENCODER = msgspec.json.Encoder()


def may_show_secret(records: list[WireRecord], secret: str) -> bool:
    """False only when no string of ``records`` can spell ``secret``.

    Re-encoded by msgspec, every string appears literally except for ``"``, ``\\`` and control characters,
    which the anchor does not hold: a search for it is exact (a match across two strings only makes it
    cautious). Asked only of answers that ``SecretScan`` could not clear (an anchor, a ``\\u`` escape or a
    NUL in the bytes): ~4 ms for 10,000 records.
    """
    anchor = _anchor(secret)
    if anchor is None:
        return False
    if not anchor:
        return True
    blob = _ENCODER.encode(records)
    # A backslash in a string (msgspec doubles it) may begin an escape of JSON inside it, as in externalSource.
    return b"\\\\" in blob or _holds_any(blob.lower(), _needles(secret))
