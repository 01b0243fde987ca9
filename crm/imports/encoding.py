"""Which text encoding a file is in: a careful order of trials over its first bytes.

Why not a detection library: ``charset-normalizer`` 3.4.7, tried on the files people
send, read a short GBK file ("客户名称,城市 / 新希望,成都") and a cp1252 "Café" as UTF-16-BE,
and a two-character GBK name as Big5-HKSCS. The question here is narrower than "any
encoding in the world" (UTF-8, UTF-16, GB18030/GBK, cp1252/Latin-1), and a short trial
order answers it better:

1. a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32) is believed;
2. UTF-16 without a mark shows as NUL bytes on every other position;
3. other NUL or control bytes, or a known binary signature, mean "not text": refused;
4. text that decodes as UTF-8 is UTF-8 (other encodings almost never do, beyond ASCII);
5. else GB18030 when its two-byte pairs are GB2312's (both bytes 0xA1-0xFE: nearly every
   pair of real Chinese text), where an accented Latin letter is followed by an ASCII
   one (``é`` + ``x``: a pair that only GBK's extension has);
6. else Windows-1252 (Latin-1 when it has bytes cp1252 leaves undefined), unless a
   quarter of its letters would be accented: then some other encoding (Shift-JIS, Big5,
   KOI8-R...) and the file is refused until the user chooses one.

The guess comes with a confidence and a reason, for a screen to show and let the user
change (``ENCODINGS`` lists what may be chosen).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

from flask_babel import lazy_gettext as _l

from crm.imports.errors import UnreadableFile

# What a user may choose (the codec name: its words). Python codec names.
ENCODINGS: dict[str, str] = {
    "utf-8": _l("Unicode (UTF-8)"),
    "utf-8-sig": _l("Unicode (UTF-8 with byte order mark)"),
    "utf-16": _l("Unicode (UTF-16 with byte order mark)"),
    "utf-16-le": _l("Unicode (UTF-16 little-endian)"),
    "utf-16-be": _l("Unicode (UTF-16 big-endian)"),
    "utf-32": _l("Unicode (UTF-32 with byte order mark)"),
    "gb18030": _l("Chinese, simplified (GB18030 / GBK)"),
    "big5": _l("Chinese, traditional (Big5)"),
    "shift_jis": _l("Japanese (Shift-JIS)"),
    "cp1252": _l("Western European (Windows-1252)"),
    "latin-1": _l("Western European (ISO-8859-1)"),
    "cp1250": _l("Central European (Windows-1250)"),
    "cp1251": _l("Cyrillic (Windows-1251)"),
}

SAMPLE_BYTES = 1 << 20  # what the decision reads; an ASCII head makes it look further
_WINDOW = 1 << 16
_HIGH = re.compile(rb"[\x80-\xff]")
_CONTROL = re.compile(rb"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_SIGNATURES = (
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"%PDF", "binary"),
    (b"\x89PNG", "binary"),
    (b"\xff\xd8\xff", "binary"),
    (b"GIF8", "binary"),
    (b"\x1f\x8b", "binary"),
    (b"7z\xbc\xaf", "binary"),
    (b"Rar!", "binary"),
    (b"SQLite format 3", "binary"),
    (b"\x7fELF", "binary"),
    (b"MZ", "binary"),
)


@dataclass(frozen=True)
class Guess:
    """A detected setting: its value, how sure ("high", "medium", "low", or "chosen"
    when the user set it) and why, in words for people."""

    value: str
    confidence: str
    reason: Any  # a lazy string: drawn in the language of whoever reads it


def signature(head: bytes) -> str | None:
    """ "zip" (an XLSX, or another zip), "xls" (an old Excel file), "binary" (another
    known binary format) or None, from a file's first bytes."""
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    return None


def check_encoding(name: str) -> str:
    """``name`` when it is one of ``ENCODINGS``; UnreadableFile otherwise."""
    if name not in ENCODINGS:
        raise UnreadableFile(
            "encoding_unknown",
            _l("“%(name)s” is not an encoding this import can read.", name=name[:40]),
        )
    return name


def detect(stream: BinaryIO) -> Guess:
    """The encoding of a seekable binary text file (see the module's docstring);
    UnreadableFile ("binary", "encoding") when it is no text or no encoding fits."""
    stream.seek(0)
    head = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return Guess("utf-32", "high", _l("The file starts with a UTF-32 byte order mark."))
    if head.startswith(codecs.BOM_UTF8):
        return Guess("utf-8-sig", "high", _l("The file starts with a UTF-8 byte order mark."))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Guess("utf-16", "high", _l("The file starts with a UTF-16 byte order mark."))
    if not head:
        raise UnreadableFile("empty", _l("The file is empty."))
    wide = _utf16_without_mark(head)
    if wide:
        return Guess(wide, "medium", _l("Every other byte is zero: UTF-16 without a mark."))
    if b"\x00" in head or signature(head) or len(_CONTROL.findall(head)) > len(head) // 200:
        raise UnreadableFile(
            "binary",
            _l("This is not a text file (CSV or TSV): it holds binary data. "
               "Upload a CSV, TSV or XLSX file."),
        )  # fmt: skip
    sample = head
    found = _HIGH.search(head)
    if found is None:
        sample = _first_non_ascii(stream)
        if sample is None:
            return Guess("utf-8", "high", _l("The file holds only ASCII characters."))
    return _judge(sample)


def _utf16_without_mark(head: bytes) -> str | None:
    sample = head[: 1 << 14]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _first_non_ascii(stream: BinaryIO) -> bytes | None:
    """A window of the file around its first byte over 0x7F (None: all ASCII), read in
    chunks: the whole file is scanned, never held."""
    stream.seek(0)
    offset = 0
    try:
        while chunk := stream.read(SAMPLE_BYTES):
            found = _HIGH.search(chunk)
            if found is not None:
                start = max(0, offset + found.start() - 64)
                stream.seek(start)
                window = stream.read(_WINDOW)
                # begin on an ASCII byte: multi-byte sequences are then whole
                skip = 0
                while skip < len(window) and window[skip] >= 0x80:
                    skip += 1
                return window[skip:]
            offset += len(chunk)
        return None
    finally:
        stream.seek(0)


def _judge(sample: bytes) -> Guess:
    """UTF-8, GB18030, cp1252 / Latin-1 or a refusal, for a sample with non-ASCII bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a sequence cut at the sample's end is fine
    except UnicodeDecodeError:
        pass
    else:
        return Guess("utf-8", "high", _l("The text is valid UTF-8."))
    good, broken = _utf8_share(sample)
    if good >= 2 and broken * 4 <= good:
        return Guess(
            "utf-8",
            "medium",
            _l("The text is UTF-8 but for a few bytes: the rows holding them are reported."),
        )
    gb = _gb_share(sample)
    if gb is not None and gb[0] >= 0.95:
        pairs = gb[1]
        confidence = "high" if pairs >= 20 else "medium" if pairs >= 3 else "low"
        return Guess(
            "gb18030",
            confidence,
            _l(
                "Not valid UTF-8; the text reads as Chinese in GB18030 (GBK).",
            ),
        )
    high = len(_HIGH.findall(sample))
    letters = sum(1 for b in sample if 0x41 <= (b | 0x20) <= 0x7A) + high
    if letters and high > 0.25 * letters:
        raise UnreadableFile(
            "encoding",
            _l("The file's encoding was not recognised (it is not UTF-8, UTF-16, GB18030 "
               "or Windows-1252). Choose its encoding, or save it as UTF-8 and upload it "
               "again."),
        )  # fmt: skip
    undefined = any(b in sample for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))
    name = "latin-1" if undefined else "cp1252"
    return Guess(
        name,
        "medium",
        _l("Not valid UTF-8; the accented letters read as Western European (%(name)s).",
               name=name),
    )  # fmt: skip


def _gb_share(sample: bytes) -> tuple[float, int] | None:
    """(share of two-byte pairs inside GB2312's range, number of pairs) when the sample
    decodes as GB18030; None when it does not."""
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
    except UnicodeDecodeError:
        return None
    pairs = inside = 0
    i, n = 0, len(sample)
    while i < n:
        b = sample[i]
        if b < 0x80:
            i += 1
            continue
        if i + 1 >= n:
            break
        t = sample[i + 1]
        if 0x30 <= t <= 0x39:  # a four-byte GB18030 sequence
            i += 4
            pairs += 1
            continue
        pairs += 1
        if 0xA1 <= b <= 0xF7 and 0xA1 <= t <= 0xFE:
            inside += 1
        i += 2
    if not pairs:
        return None
    return inside / pairs, pairs


def _utf8_share(sample: bytes) -> tuple[int, int]:
    """(characters beyond ASCII read as UTF-8, bytes that are not UTF-8) of a sample."""
    text = sample.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    return sum(1 for c in text if ord(c) > 0x7F) - broken, broken
