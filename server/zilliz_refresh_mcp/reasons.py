"""Failure reasons: what an answer shows of a long one, and which reasons are one problem.

Pure functions over text: no I/O, no MCP. Upstream's reasons can be stack traces of tens of kB:

- cutting: ``listed_reason`` (lists and waits: ``short_reason``, a reason's first 300 and last 200 characters or a
  Java trace's root cause in place of its last frames; past ``REASON_BYTES`` as JSON writes it, as many characters of
  its two ends as fit), ``record_reason`` (one job's record: 20,000), ``reason_shown`` and
  ``cut_between`` (for the text's failure lines, which show less of its head);
- grouping: ``alike`` groups failures whose reasons differ only in what names one instance of a problem (a path, an
  id, a time, their own collection's name), read around the ends that lists show (``grouping_view``).

records.py renders one job with these; jobs.py counts and names the groups of a listing.
"""

from __future__ import annotations

import json
import re
import string
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import one_line

REASON_CHARS = 500  # of a failure reason in lists and waits
REASON_HEAD_CHARS = 300  # of those, from its start; the rest from its end
_REASON_TAIL_CHARS = REASON_CHARS - REASON_HEAD_CHARS
_CAUSE_HEAD_CHARS = 120  # of a root cause longer than the tail: its first characters, then its last
# Of a failure reason in one job's record (its resource): a whole stack trace, but not a 2 MB log.
RECORD_REASON_CHARS = 20_000


def both_ends(text: str, head: int, tail: int, gap: str) -> str:
    """``text`` whole up to ``head + tail`` characters, else its first ``head`` and last ``tail`` with ``gap``
    between them; ``{cut}`` in ``gap`` says how many characters were left out, ``{length}`` of how many."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}{gap.format(cut=len(text) - head - tail, length=len(text))}{text[-tail:]}"


_CAUSE = "\nCaused by:"  # a Java trace's cause, at a line's start (a suppressed exception's cause is indented)
_FRAME = re.compile(r"\s*(?:at |\.\.\. \d+ (?:more|common frames omitted))")
# Grouping (below) masks the parts of a reason that name one instance of its problem, then cuts as lists do: it
# reads this much around each end, so that an address or a name one character longer does not move the cut.
GROUPING_HEAD_CHARS = 3 * REASON_HEAD_CHARS
GROUPING_TAIL_CHARS = 3 * _REASON_TAIL_CHARS
_HALF_WINDOW = (GROUPING_TAIL_CHARS // 2, GROUPING_TAIL_CHARS // 2)


def _root_cause(reason: str, tail_from: int) -> tuple[int, int] | None:
    """Where the last ``Caused by:`` line of a Java trace starts and ends, when the cut would hide it: it ends past
    the head and starts before the tail, and frames follow it to the end (else the end is no trace's: an anyhow
    chain, a message after the trace)."""
    at = reason.rfind(_CAUSE) + 1  # 0: none (a reason that starts with one is no trace)
    line_end = reason.find("\n", at)
    if not 0 < at < tail_from or line_end <= REASON_HEAD_CHARS or not reason[at + len(_CAUSE) - 1 : line_end].strip():
        return None
    last_line = reason[reason.rstrip().rfind("\n") + 1 :]
    if not (_FRAME.match(reason, line_end + 1) and _FRAME.match(last_line)):
        return None
    return at, line_end


_CAUSE_TAIL_CHARS = _REASON_TAIL_CHARS - _CAUSE_HEAD_CHARS - len(" ... ")


def cause_shown(line: str) -> str:
    """A root cause's line as lists show it: whole up to the tail's length, else its two ends, where such a cause
    names the error and the failing call."""
    if len(line) <= _REASON_TAIL_CHARS:
        return line
    return f"{line[:_CAUSE_HEAD_CHARS]} ... {line[-_CAUSE_TAIL_CHARS:]}"


def _cause_spans(at: int, length: int) -> list[tuple[int, int]]:
    """Where the characters ``cause_shown`` shows of a cause line at ``at`` lie in the reason."""
    if length <= _REASON_TAIL_CHARS:
        return [(at, at + length)]
    return [(at, at + _CAUSE_HEAD_CHARS), (at + length - _CAUSE_TAIL_CHARS, at + length)]


def _shown_end(reason: str, cause: tuple[int, int] | None) -> tuple[str, list[tuple[int, int]]]:
    """The end lists show of a long ``reason`` (its last characters, or a Java trace's root ``cause`` in place of
    its last frames: ``_root_cause``), and where its characters lie in ``reason``."""
    if cause is None:
        tail_from = len(reason) - _REASON_TAIL_CHARS
        return reason[tail_from:], [(tail_from, len(reason))]
    at, line_end = cause
    line = reason[at:line_end].rstrip()
    return cause_shown(line), _cause_spans(at, len(line))


def _cause_of(reason: str) -> tuple[int, int] | None:
    return _root_cause(reason, len(reason) - _REASON_TAIL_CHARS)


Shown = tuple[str, str, list[tuple[int, int]]]


def reason_shown(reason: str) -> Shown | None:
    """What lists show of a long ``reason``: its head, its end (``_shown_end``), and where the end's characters lie
    in ``reason``; None when it is shown whole."""
    if len(reason) <= REASON_CHARS:
        return None
    end, spans = _shown_end(reason, _cause_of(reason))
    return reason[:REASON_HEAD_CHARS], end, spans


# What a list says of a reason it cut: the job's record holds more of it.
SHOWS_MORE = "; get_refresh_job shows more"


def cut_gap(note: str = "") -> str:
    """What stands between the two ends of a reason cut short, ``{cut}`` for how many characters neither holds."""
    return " [... {cut} characters cut" + note + " ...] "


def cut_between(reason: str, shown: Shown, note: str = "") -> str:
    """``reason`` as its head (``shown``'s, or a start of it) and its end with how many characters neither holds
    between them (a root cause that starts in the head is not counted twice), marked as followed by more where the
    end is not the reason's own."""
    head, end, spans = shown
    cut = len(reason) - len(head) - sum(max(0, stop - max(start, len(head))) for start, stop in spans)
    more = "" if reason.endswith(end) else " [...]"
    return f"{head}{cut_gap(note).format(cut=cut)}{end}{more}"


def grouping_view(reason: str) -> tuple[str, tuple[str, str, bool] | None]:
    """``reason``'s ends (what ``short_reason`` shows of it, without how much it cut: reasons that differ only in
    the length of a trace's middle, a frame more, are one problem), and what grouping reads of it (None: all of it,
    as it is not cut): the text around its head, and around its end or its root cause's whole line (up to
    ``GROUPING_TAIL_CHARS``), and whether that is a root cause. One look for the root cause serves both."""
    if len(reason) <= REASON_CHARS:
        return reason, None
    cause = _cause_of(reason)
    ends = f"{reason[:REASON_HEAD_CHARS]}\x00{_shown_end(reason, cause)[0]}"
    if cause is None:
        return ends, (reason[:GROUPING_HEAD_CHARS], reason[-GROUPING_TAIL_CHARS:], False)
    at, line_end = cause
    return ends, (reason[:GROUPING_HEAD_CHARS], both_ends(reason[at:line_end].rstrip(), *_HALF_WINDOW, " "), True)


def short_reason(reason: str) -> str:
    """A failure reason cut to what an answer about many jobs can carry, both ends of it; the job's record
    (``get_refresh_job``, the resource) has more of it.

    Real reasons can be stack traces of tens of kB: whole, a dozen of them would flood the assistant's context. A
    trace names the error at its start and, in many, the cause at its end: two failures that differ only in their
    cause are two problems, and grouped by reason, must not read as one. A Java trace ends in frames, its root
    cause on its last ``Caused by:`` line: that line is shown in place of the frames, marked as followed by more.
    """
    shown = reason_shown(reason)
    return reason if shown is None else cut_between(reason, shown, SHOWS_MORE)


def wire_bytes(text: str) -> int:
    """What ``text`` takes in the answer: as a JSON string, a newline before it."""
    return len(json.dumps(text, ensure_ascii=False).encode()) - 1


def text_bytes(text: str) -> int:
    """What upstream's ``text`` takes in the answer, the more of its two forms there: as a JSON string in the
    structured content (a control character ``\\u0001``, 6 bytes) and in a line of the text (``one_line`` writes a
    bidi mark as ``\\u202e``, 7 bytes as JSON)."""
    return max(wire_bytes(text), wire_bytes(one_line(text)))


def within_bytes(text: str, limit: int, gap: str, measure: Callable[[str], int] = wire_bytes) -> str:
    """``text`` whole when it takes at most ``limit`` bytes in the answer, else as many characters of its two ends
    as fit (three fifths from its start), ``gap`` between them: a character takes one byte, or up to six (a
    control character, written ``\\u001b``). ``measure``: what a text takes, by default as a JSON string."""
    shown, size, chars = text, measure(text), len(text)
    whole = size
    while size > limit and chars > 1:
        chars = max(1, min(chars - 1, chars * limit // size))  # none: both_ends would keep the whole text
        head = chars * 3 // 5
        shown = both_ends(text, head, chars - head, gap)
        size = measure(shown)
    return shown if size <= whole else text  # a limit below a character and the gap: nothing shorter fits


# A reason as lists carry it, as JSON writes it: one of REASON_CHARS plain characters fits, one of control characters
# (six bytes each) or of CJK (three) is cut shorter, so that a page's reasons cannot fill the answer.
REASON_BYTES = 2 * REASON_CHARS
_LISTED_GAP = cut_gap(SHOWS_MORE)  # as short_reason's


def listed_reason(reason: str) -> str:
    """A reason as a list shows it (``short_reason``), or, when that takes over ``REASON_BYTES`` (``text_bytes``), as
    many characters of its two ends as fit."""
    short = short_reason(reason)
    if text_bytes(short) <= REASON_BYTES:
        return short
    return within_bytes(reason, REASON_BYTES, _LISTED_GAP, text_bytes)


def record_reason(reason: str) -> str:
    """A failure reason as one job's record carries it: whole up to RECORD_REASON_CHARS, else both ends.

    A trace names the error at its start and the cause at its end ("Caused by: ..."); the middle repeats frames.
    """
    half = RECORD_REASON_CHARS // 2
    return both_ends(reason, half, half, "\n... [{cut} characters cut from the middle of {length}] ...\n")


# --- grouping ----------------------------------------------------------------------------------


# The parts of a reason that name one instance of a problem: reasons that differ only there are one problem, such
# as a denied read, each naming its own file. Not numbers of 1-3 digits, nor one after "code", "status", "error" or
# "errno", nor a port: they tell errors apart (HTTP 403, code 1100, code = 65535; object storage on :9000, Milvus on
# :19530); but a number after a word that counts places or pieces of work is masked (Spark's "Task 3 in stage 6.0
# (TID 103)", "line 45", "row 7"). The pattern starts with a digit, what comes before it looked at after, so that
# the regex engine skips to digits (~10 us for a trace's ends, not ~200).
_COUNTERS = (
    "task tid stage line row offset position partition attempt split batch chunk shard segment executor worker thread"
)
_COUNTER_LENGTHS = sorted({len(word) for word in _COUNTERS.split()})
# A lookbehind is of fixed width: one for the words of each length, the first digit already read.
_AFTER_COUNTER = "|".join(
    rf"(?<=\b(?i:{'|'.join(word for word in _COUNTERS.split() if len(word) == n)})[ #=]\d)" for n in _COUNTER_LENGTHS
)
_KEEP_AFTER = "".join(
    rf"(?<!{word}{separators}\d)"
    for word in ("[cC]ode", "[sS]tatus", "[eE]rr(?:or|no)")
    for separators in ("[=: (]", "(?:: | =|= )", " = ")
)
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# The words of a date and time, once its numbers are masked (\x01), in two searches: the regex engine runs each by
# skipping to what all its matches start with (one search of both, with no such start, took ~9x as long):
# - a day of the week or a month before a date's number, or a weekday before its month: Thu, 27 Nov 2025 (HTTP);
#   Thu Nov 27 (Java's Date); Nov 30 and Dec 1 (Java's logging). No letter before the word, looked at after it;
# - a month or the half of a day after a number: 30 Nov; 9:05:00 PM; a month between a day and its year, 27-Nov-2025
#   (Tomcat, Oracle), 27/Nov/2025 (a web server's access log); what stands between them is kept.
_WORD_BEFORE_DATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|{_MONTHS})(?<![A-Za-z]...)(?=,? (?:\x01|(?:{_MONTHS})\b))"
)
_WORD_AFTER_NUMBER = re.compile(rf"\x01(?:( )(?:{_MONTHS}|[AaPp][Mm])\b|([/-])(?:{_MONTHS})(?=[/-]?\x01))")
_NUMBERS = re.compile(
    rf"\d(?<![\d:]\d){_KEEP_AFTER}"
    r"(?:\d{3}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"  # a date, its time
    r"|(?:\d{3}|\d?)/\d\d?/\d\d(?:\d\d)?(?![\d/])"  # a log line's date: 2025/11/27 (Go), 25/11/28 (Spark), 11/27/2025
    # A day by its month: Nov 27 (Java's logging), 27 Nov; 27-Nov-2025, 27/Nov/2025 (the month between it and a year).
    rf"|(?<=\b(?:{_MONTHS}) \d)\d?(?!\d)|\d?(?= (?:{_MONTHS})\b|[/-](?:{_MONTHS})[/-]\d)"
    # Values in a row: [0.12, -0.5, 1.2e-05], 3 7 12; not the date before a time of day (Nov 27, 2025 9:05:00 PM).
    r"|\d*(?:\.\d+)?(?:[eE][-+]?\d+)?(?:(?:, ?| )-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?){2,}(?!\w|[.:]\d)"
    # A time of day, 9:05 or 21:05:00.5, a zone -05:00; not a port (node10:9000, sftp-0:22, us-east-1:12...). With its
    # seconds, no port: after a letter too (T21:05:00, a date's 2025-11-27_21:05:00).
    r"|(?<![A-Za-z_]\d)(?<![A-Za-z]-\d)\d?:[0-5]\d(?::[0-6]\d(?:[.,]\d+)?)?(?!\d)|\d?:[0-5]\d:[0-6]\d(?:[.,]\d+)?(?!\d)"
    r"|\d{0,2}(?:\.\d{1,3}){3}"  # an IPv4 address
    # A duration: 59m42.8s, 150ms; 30 seconds, 1.5 hours (its unit too: 30 seconds is 1.5 minutes).
    r"|(?<![A-Za-z_]\d)\d*(?:\.\d+)?(?:(?:h|ms|m|s|us|µs|ns)(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))*\b"
    r"| (?:milli|micro|nano)?(?:seconds?|minutes?|hours?)\b)"
    r"|\d*(?:\.\d+)+"  # a measure, a version: seconds taken, a size, 2.4.1
    r"|\d{3,}"  # an id, a part of a file, an offset
    rf"|(?:{_AFTER_COUNTER})\d*"  # Task 3, line 45
    r")"
)
_UUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
# A URI's path, after its host or bucket, up to a quote, a bracket, a query or a colon not of a port.
_URI_PATH = re.compile(r"(://[^/\s\"'<>()\[\]{},;?]*)/[^\s\"'<>()\[\]{},;?]*?(?=[\"'<>()\[\]{},;?]|:(?!\d)|$)")
_DIGIT_RUN = re.compile(r"\d+")
# A file's name before its extensions, of the formats an external collection reads (and their compressions) or a
# log's: the extensions are kept (a CSV and a Parquet file may fail for different reasons; orders.csv.gz is a CSV).
# The name starts a word or a path's segment, and the extensions end it (or a rotated log's number, app.log.1):
# storage.log.example.com is a host.
_EXTENSION = (
    r"\.(?:parquet|orc|avro|csv|tsv|jsonl?|ndjson|txt|log|arrow|feather|lance|npy|npz|gz|bz2|zst|snappy|lz4|zip)"
)
_FILE_STEM = re.compile(rf"(?<![\w.-])[\w-][\w.-]*?(?=(?:{_EXTENSION})+(?:\.\d+)?(?![\w-]|\.\w))", re.IGNORECASE)
# Searched for first, in an ASCII word lower-cased: a word with no such extension has no file's name, and this search
# is ~10x faster than _FILE_STEM's (a Java frame's words: org.apache.Reader.read(Reader.java:42)). Not in other words:
# _FILE_STEM ignores case as Unicode does (U+017F, a long s, is an "s"), lower() does not.
_ANY_EXTENSION = re.compile(_EXTENSION)
_LETTER = re.compile(r"[^\W\d_]")
_ID_CHARS = re.compile(r"[A-Za-z0-9+/=]+")
_HEX = re.compile(r"[0-9A-Fa-f]+")
_WORD_SEGMENT = re.compile(r"(?:^|/)[A-Za-z]{3,}(?:/|$)")  # data/2024/05/01/part0001 is a path, not base64
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_AROUND_WORD = "\"'.,;:()[]{}<>"


def _opaque(core: str) -> bool:
    """Whether ``core`` is an id no person wrote: hex of 12 or more characters with letters and digits (a request
    id), or base64 of 20 or more with 4 digits or more and both cases, padding, or a digit in four characters (an
    extended request id), not a class name (Base64DecodingException)."""
    if len(core) < 12 or not _ID_CHARS.fullmatch(core) or _WORD_SEGMENT.search(core):
        return False
    digits = sum(char.isdigit() for char in core)
    if _HEX.fullmatch(core):
        return 0 < digits < len(core)
    mixed = not core.islower() and not core.isupper()
    return len(core) >= 20 and digits >= 4 and (mixed or core.endswith("=") or digits * 4 >= len(core))


def _path_segment(segment: str) -> str:
    """A segment of a path without a scheme, its id or UUID masked, else a file's name, else its numbers."""
    if _opaque(segment.strip(_AROUND_WORD)) or _UUID.fullmatch(segment):
        return "\x01"
    return _file_name_and_numbers(segment)


def _file_name_and_numbers(text: str) -> str:
    """``text`` with a file's name masked (its extensions kept) and its numbers: part-001.parquet reads as
    part-002.parquet does, app.log.1 as app.log.2."""
    return _DIGIT_RUN.sub("\x01", _FILE_STEM.sub("\x01", text) if "." in text else text)  # an extension's dot


def _reason_shape(ends: str) -> str:
    """``ends`` (a reason, or the text around an end of a long one: ``_grouping_shape``; its blanks made single
    spaces) with the parts that name one instance of its problem masked: a URI's path (not its host or bucket), the
    numbers in a path, a file's name, request ids, UUIDs, dates and times, IP addresses (not their ports),
    durations, decimals, values in a row (a vector's), numbers of four digits or more, a number after a word such as
    "task" or "line". A reason of nothing else is kept whole: two such reasons have nothing in common to group by."""
    words = ends.split(" ")
    for at, word in enumerate(words):
        if len(word) >= 12 and _opaque(core := word.strip(_AROUND_WORD)):
            words[at] = word.replace(core, "\x01")
        elif "://" in word:
            words[at] = _URI_PATH.sub("\\1/\x01", word)
        elif "/" in word and _LETTER.search(word):  # a path, a class's internal name: their words are kept
            words[at] = "/".join(map(_path_segment, word.split("/")))
        elif "." in word and (not word.isascii() or _ANY_EXTENSION.search(word.lower())) and _FILE_STEM.search(word):
            words[at] = _file_name_and_numbers(word)
        elif len(word) >= 36 and "-" in word:
            words[at] = _UUID.sub("\x01", word)
        elif "::" in word:  # an IPv6 address, its port kept as an IPv4 address's is
            words[at] = _IPV6.sub("\x01", word)
    # A number's sign is its instance's too: a vector that starts -0.25 is the one that starts 0.5.
    shape = _NUMBERS.sub("\x01", " ".join(words)).replace("-\x01", "\x01")
    shape = _WORD_AFTER_NUMBER.sub("\x01\\1\\2\x01", _WORD_BEFORE_DATE.sub("\x01", shape))
    return shape if _LETTER.search(shape) else ends


def _grouping_texts(reason: str, windows: tuple[str, str, bool] | None, own_name: str | None) -> tuple[str, ...]:
    """The texts of ``reason`` that grouping masks (``_SHAPES``): all of it, or the two that ``windows`` reads of a
    long one (``grouping_view``); each with its job's collection name (``own_name``) marked where it stands as a
    word."""
    texts = (reason,) if windows is None else windows[:2]
    return tuple(_name_masked(text, own_name) for text in texts) if own_name else texts


def _grouping_shape(texts: tuple[str, ...], windows: tuple[str, str, bool] | None) -> str:
    """What groups a reason: its ``_grouping_texts`` masked (the parts that name one instance of its problem), then
    cut as lists cut it (``reason_shown``). Masked first, an address or a name one character longer does not move
    the cut."""
    if windows is None:
        return _SHAPES(texts[0])
    is_cause = windows[2]
    masked_end = _SHAPES(texts[1])
    shown_end = cause_shown(masked_end) if is_cause else masked_end[-_REASON_TAIL_CHARS:]
    return f"{_SHAPES(texts[0])[:REASON_HEAD_CHARS]}\x00{shown_end}"


class _ShapeCache:
    """The shapes of the texts grouping masked: a finished job's reason never changes, so the next listing finds its
    shape here. Least recently used first out, but never a shape that the listing under way reads (``begin`` marks
    them): an LRU cache smaller than what each listing reads finds nothing at all, every text pushed out just before
    it is read again, and 12,000 failures with stack traces then cost ~1.4 s of CPU at every list, not ~0.4 s. Past
    its size, a listing finds what the cache holds, and the rest is made anew, not kept."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._held: OrderedDict[str, list[Any]] = OrderedDict()  # text: [shape, the listing that last read it]
        self._listing = 0
        self.misses = 0  # shapes made, for tests

    def begin(self, texts: Iterable[str]) -> None:
        """A listing begins that reads ``texts``: those held are kept before any other until it ends."""
        self._listing += 1
        for text in texts:
            if (entry := self._held.get(text)) is not None:
                entry[1] = self._listing
                self._held.move_to_end(text)

    def __call__(self, text: str) -> str:
        if (entry := self._held.get(text)) is not None:
            shape: str = entry[0]
            return shape
        self.misses += 1
        shape = _reason_shape(" ".join(text.split()))
        if len(self._held) >= self._size:
            if next(iter(self._held.values()))[1] == self._listing:
                return shape  # every shape held is read by this listing: they stay, this one is not kept
            self._held.popitem(last=False)
        self._held[text] = [shape, self._listing]
        return shape

    def clear(self) -> None:
        self._held.clear()
        self.misses = 0


# Sized for the 10,000 jobs an answer is built for, two texts each (a long reason's head and end). Full, it holds
# ~25 MB (10,000 failures of 3 kB traces, measured).
_SHAPES = _ShapeCache(20_000)


# Names masked in their own job's reason: ext_books, logs2024. A plain word (data, images) may be the reason's own.
_NAME_LIKE = re.compile(r"[_\d]")
_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")


def _name_masked(text: str, name: str) -> str:
    """``text`` with ``name`` marked where it stands as a word: "ext_a: disk full" and "ext_b: disk full" are one
    problem of two collections. (Searched for as a string: a pattern compiled per name, for 10,000 collections,
    cost more than the rest of the grouping.)"""
    pieces: list[str] = []
    start = 0
    at = text.find(name)
    while at != -1:
        end = at + len(name)
        if (at == 0 or text[at - 1] not in _WORD_CHARS) and (end == len(text) or text[end] not in _WORD_CHARS):
            pieces += (text[start:at], "\x02")
            start = end
            at = text.find(name, end)
        else:
            at = text.find(name, at + 1)
    return "".join((*pieces, text[start:])) if pieces else text


@dataclass(frozen=True)
class Alike:
    """Failures that are one problem: their places in the list given, how many different reasons they give, and the
    first of those reasons, whole ("" when none was given)."""

    members: list[int]
    distinct: int
    first: str


def alike(failures: Sequence[tuple[str, str | None]]) -> list[Alike]:
    """``failures``, each a reason ("" when none) and its job's collection name, grouped as one problem when their
    reasons differ only in what names one instance of it (``_grouping_shape``), or are the same reason whatever
    collections they name; the groups in the order of their first failure, which does not change them."""
    nodes: dict[tuple[str, str, str | None], tuple[str, str]] = {}  # by what grouping reads of a reason, and a name
    # By ends (what lists show of a reason): its words, blanks aside (a reason that differs only in blanks is one),
    # and the first such reason, whole.
    seen: dict[str, tuple[str, str]] = {}
    parents: dict[tuple[str, str], tuple[str, str]] = {}  # a union-find over words and shapes: a group per root

    def root(node: tuple[str, str]) -> tuple[str, str]:
        parents.setdefault(node, node)
        while (parent := parents[node]) != node:
            parents[node] = parents[parent]
            node = parent
        return node

    read: list[tuple[str, tuple[str, str, str | None]]] = []  # each failure's reason's ends, and what grouping reads
    texts_of: dict[tuple[str, str, str | None], tuple[tuple[str, ...], tuple[str, str, bool] | None]] = {}
    for reason, collection in failures:
        ends, windows = grouping_view(reason)
        name = collection if collection and collection in ends and _NAME_LIKE.search(collection) else None
        # A short reason is its ends; a long one is grouped by more than its ends (``_grouping_shape``).
        key = (ends, "", name) if windows is None else (windows[0], windows[1], name)
        if key not in texts_of:
            texts_of[key] = (_grouping_texts(reason, windows, name), windows)
        read.append((ends, key))
    _SHAPES.begin(text for texts, _ in texts_of.values() for text in texts)
    keyed: list[tuple[str, tuple[str, str]]] = []  # each failure's reason's ends, and its shape's node
    for (ends, key), (reason, _) in zip(read, failures, strict=True):
        if (node := nodes.get(key)) is None:
            node = nodes[key] = ("shape", _grouping_shape(*texts_of[key]))
            if (known := seen.get(ends)) is None:
                known = seen[ends] = (" ".join(ends.split()), reason)
            words = known[0]
            # One group for reasons of one shape, and for one reason whatever shapes its jobs' names gave it.
            if (top := root(("words", words))) != (other := root(node)):
                parents[other] = top
        keyed.append((ends, node))
    members: dict[tuple[str, str], list[int]] = {}
    words_by_group: dict[tuple[str, str], dict[str, str]] = {}  # words -> ends, in the order given: the first shown
    tops = {node: root(node) for node in nodes.values()}
    for at, (ends, node) in enumerate(keyed):
        top = tops[node]
        members.setdefault(top, []).append(at)
        words_by_group.setdefault(top, {}).setdefault(seen[ends][0], ends)
    groups = []
    for top, places in members.items():
        reasons = words_by_group[top]
        groups.append(Alike(members=places, distinct=len(reasons), first=seen[next(iter(reasons.values()))][1]))
    return groups
