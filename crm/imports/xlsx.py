"""Reading an XLSX workbook safely and as a stream (openpyxl, read-only mode).

Before openpyxl parses anything, the zip's directory is checked (``guard``): too many
parts, too much once inflated, or a part inflating more than ``max_ratio`` times its
compressed size is a zip bomb and refused. Python's zipfile never inflates a part beyond
the size the directory declares, so a lying directory cannot get past the check.

Formulas: values are read as the workbook last calculated them (openpyxl's
``data_only``): what the user saw in Excel. A formula without a saved value (a workbook
written by a program that does not calculate) would read as empty: such cells are found by
scanning the sheet's XML (``formula_cells``) and their rows are reported as bad rows, not
imported half empty. Links to other workbooks are never followed: their values are the
ones saved with this file, and a notice says so.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from typing import Any, BinaryIO
from xml.etree.ElementTree import ParseError

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook
from openpyxl.reader import excel as openpyxl_excel
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet.dimensions import SheetDimension
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import iterparse

from crm.imports.errors import UnreadableFile
from crm.imports.source import Limits, Notice

_MAX_PARTS = 10_000
_DIMENSION = f"{{{SHEET_MAIN_NS}}}dimension"
_SHEET_DATA = f"{{{SHEET_MAIN_NS}}}sheetData"


class _SheetSizedByItsHead(ReadOnlyWorksheet):
    """openpyxl's read-only sheet, reading its declared size from the head of the XML only.

    openpyxl looks for ``<dimension>`` with "end" events, which arrive for
    ``<sheetData>`` only after the whole sheet: a sheet without ``<dimension>`` (as many
    programs write them, openpyxl's own write-only mode included) was parsed whole when
    the workbook was opened, then again to read its rows, for every pass over the file.
    The dimension element comes before the data, so a "start" event finds it, or its
    absence, at once. Nothing else differs (and the import ignores the declared size
    anyway: ``sheet_rows``)."""

    def _get_size(self) -> None:
        src = self._get_source()
        try:
            for _event, element in iterparse(src, events=("start",)):
                if element.tag == _DIMENSION:
                    found = SheetDimension.from_tree(element).boundaries
                    if found is not None:
                        self._min_column, self._min_row, self._max_column, self._max_row = found
                    return
                if element.tag == _SHEET_DATA:
                    return
        finally:
            src.close()


# openpyxl builds its read-only sheets from this module's name: use the one above.
openpyxl_excel.ReadOnlyWorksheet = _SheetSizedByItsHead
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL = re.compile(rb"<c\b([^>]*?)(?<!/)>(.*?)</c>", re.DOTALL)
_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_CHUNK = 1 << 20
MAX_REPORTED = 10_000


def guard(stream: BinaryIO, limits: Limits) -> tuple[zipfile.ZipFile, list[Notice]]:
    """The workbook's zip, checked (see the module's docstring), and notices (links to
    other workbooks). UnreadableFile ("xlsx", "zip_bomb") otherwise."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise damaged() from None
    infos = archive.infolist()
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise UnreadableFile(
            "xlsx",
            _l("This zip file is not an Excel workbook (XLSX). Upload a CSV, TSV or XLSX file."),
        )
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if (
            len(infos) > _MAX_PARTS
            or total > limits.max_uncompressed
            or (info.file_size > 2**20 and ratio > limits.max_ratio)
        ):
            raise UnreadableFile(
                "zip_bomb",
                _l("This workbook would take more than %(size)s MB once uncompressed, or "
                   "inflates suspiciously (over %(ratio)s times): it is refused. Save it "
                   "as CSV, or split it.",
                   size=limits.max_uncompressed // 2**20, ratio=limits.max_ratio),
            )  # fmt: skip
        if info.filename == "xl/sharedStrings.xml" and info.file_size > limits.max_shared_strings:
            raise UnreadableFile(
                "too_large",
                _l("This workbook holds more than %(size)s MB of text: save it as CSV "
                   "(UTF-8) and upload the CSV.", size=limits.max_shared_strings // 2**20),
            )  # fmt: skip
    notices = []
    if any(n.startswith("xl/externalLinks/") for n in names):
        notices.append(
            Notice(
                "external_links",
                _l("The workbook links to other files. Those links are not followed: the "
                   "values are the ones saved in this file when it was last calculated."),
            )
        )  # fmt: skip
    return archive, notices


def sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> the path of its XML part, in the workbook's order."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ParseError, DefusedXmlException):
        return {}
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_NS_PKG_REL}Relationship")}
    out = {}
    for sheet in book.iter(f"{_NS_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_NS_REL}id"), "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        out[sheet.get("name", "")] = posixpath.normpath(path)
    return out


def formula_cells(archive: zipfile.ZipFile, path: str) -> tuple[int, dict[int, str]]:
    """(number of formula cells, {row: first cell without a saved value}) of a sheet's
    XML part, read in chunks (a byte scan: only chunks holding ``<f`` are searched)."""
    count, missing = 0, {}
    try:
        part = archive.open(path)
    except KeyError:
        return 0, {}
    with part:
        tail = b""
        while True:
            chunk = part.read(_CHUNK)
            data = tail + chunk
            if not chunk:
                break
            end = data.rfind(b"</c>")
            if end < 0:
                tail = data[-(1 << 22) :]  # a cell larger than 4 MB is not a formula's
                continue
            end += 4
            block, tail = data[:end], data[end:]
            if b"<f" not in block:
                continue
            for m in _CELL.finditer(block):
                inner = m.group(2)
                if b"<f" not in inner:
                    continue
                count += 1
                if b"<v>" not in inner and b"<is>" not in inner and len(missing) < MAX_REPORTED:
                    ref = _REF.search(m.group(1))
                    if ref:
                        row = int(ref.group(2))
                        missing.setdefault(row, ref.group(1).decode() + ref.group(2).decode())
    return count, missing


# What openpyxl raises on a damaged or hostile workbook (it has no error class of its own).
DAMAGED = (
    KeyError, ValueError, TypeError, IndexError, AttributeError, OSError,
    zipfile.BadZipFile, ParseError, DefusedXmlException,
)  # fmt: skip


def damaged() -> UnreadableFile:
    """The refusal of a workbook openpyxl could not read."""
    return UnreadableFile("xlsx", _l("This file is damaged: it is not a readable XLSX workbook."))


def open_book(stream: BinaryIO) -> Any:
    """The workbook in read-only mode, cached values for formulas, links not kept;
    UnreadableFile when openpyxl cannot read it."""
    stream.seek(0)
    try:
        return load_workbook(stream, read_only=True, data_only=True, keep_links=False)
    except DAMAGED:
        raise damaged() from None


def sheet_rows(book: Any, sheet: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(row number, values) of a sheet, streamed; rows the sheet leaves out are not
    produced, trailing empty cells are trimmed. The sheet's declared size is ignored
    (``reset_dimensions``): a sheet claiming A1:XFD1048576 is not padded to that."""
    ws = book[sheet]
    ws.reset_dimensions()
    rows = enumerate(ws.iter_rows(values_only=True), start=1)
    while True:
        try:
            number, row = next(rows)
        except StopIteration:
            return
        except DAMAGED:
            raise damaged() from None
        values = tuple(row)
        end = len(values)
        while end and (values[end - 1] is None or values[end - 1] == ""):
            end -= 1
        yield number, values[:end]
