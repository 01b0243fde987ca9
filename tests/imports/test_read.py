"""Reading CSV and TSV uploads as people have them (issue 16): every fixture is made here,
reproducing the kinds of mess real CRM exports have; nothing outside tests/ is read."""

from __future__ import annotations

import io

import pytest

from crm.imports.read import BadRow, Limits, Row, Settings, UnreadableFile, open_source

STOCKS = (
    "ts_code,name,area,industry,timeToMarket,pe\n"
    "000720.SZ,新 能 泰,山东,火力发电,19970710,0.07200000000000001\n"
    "000001.SZ,平安银行,深圳,银行,19910403,8.2\n"
    "600000.SH,浦发银行,上海,银行,0,5.5\n"
    "000016.SZ,深康佳Ａ,深圳,家用电器,19920327,12.1\n"
)


def read(data: bytes, name: str = "file.csv", **kw):
    settings = kw.pop("settings", None)
    limits = kw.pop("limits", None)
    source = open_source(io.BytesIO(data), name, settings, limits)
    return source, list(source.rows())


def good(rows):
    return [r for r in rows if isinstance(r, Row)]


def bad(rows):
    return [r for r in rows if isinstance(r, BadRow)]


def test_bom_and_crlf_with_quoted_commas_escaped_quotes_and_nbsp():
    text = (
        "Order ID,Product Name,Sales,Order Date,Postal Code\r\n"
        'CA-1,"Bretford 60"" Table, Oak",261.96,11/8/2018,04401\r\n'
        'CA-2,"Eldon\u00a0Base",14.62,6/12/2017,\r\n'
    )
    source, rows = read(b"\xef\xbb\xbf" + text.encode())
    assert source.encoding.value == "utf-8-sig" and source.encoding.confidence == "high"
    assert source.delimiter.value == "," and source.line_ending == "CRLF"
    assert source.columns == ("Order ID", "Product Name", "Sales", "Order Date", "Postal Code")
    assert [r.line for r in rows] == [2, 3]
    assert rows[0].values == ("CA-1", 'Bretford 60" Table, Oak', "261.96", "11/8/2018", "04401")
    assert rows[1].values[1] == "Eldon\u00a0Base"  # kept for the value parser
    assert source.counts.rows == 2 and source.counts.bad == 0


def test_gbk_reencoded_chinese_is_detected():
    source, rows = read(STOCKS.encode("gb18030"))
    assert source.encoding.value == "gb18030"
    assert source.encoding.confidence == "high"
    assert rows[0].values[1] == "新 能 泰" and rows[3].values[1] == "深康佳Ａ"


def test_short_gbk_and_short_cp1252():
    source, rows = read("客户名称,城市\n新希望,成都\n".encode("gbk"))
    assert source.encoding.value == "gb18030"
    assert rows[0].values == ("新希望", "成都")
    source, rows = read("Name,City\nJosé,México D.F.\nMüller,Köln\n".encode("cp1252"))
    assert source.encoding.value == "cp1252"
    assert rows[0].values == ("José", "México D.F.")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_and_without_a_mark(codec):
    source, rows = read(STOCKS.encode(codec))
    assert source.encoding.value.startswith("utf-16")
    assert rows[1].values[:2] == ("000001.SZ", "平安银行")
    assert len(rows) == 4


def test_non_ascii_far_into_an_ascii_file_is_still_judged():
    body = "".join(f"{i},Name {i}\n" for i in range(80_000))
    data = ("id,name\n" + body + "80001,Frédérique\n").encode("cp1252")
    source, rows = read(data)
    assert len(data) > 1 << 20
    assert source.encoding.value == "cp1252"
    assert rows[-1].values == ("80001", "Frédérique")


def test_a_stray_byte_in_utf8_is_a_bad_row_not_a_crash():
    data = "id,name\n1,José Frédérique Müller Kö\n".encode() + b"2,Jos\xe9\n" + b"3,Ann\n"
    source, rows = read(data)
    assert source.encoding.value == "utf-8" and source.encoding.confidence == "medium"
    assert [r.line for r in good(rows)] == [2, 4]
    (row,) = bad(rows)
    assert row.line == 3 and row.code == "characters"


def test_semicolons_and_decimal_commas():
    data = "Nombre;Importe;Fecha\nAcme;1.234,50;31/12/2024\nBólido;99,9;01/02/2024\n"
    source, rows = read(data.encode("cp1252"))
    assert source.delimiter.value == ";"
    assert rows[0].values == ("Acme", "1.234,50", "31/12/2024")


def test_tabs_and_pipes():
    source, rows = read(b"a\tb\tc\n1\t2\t3\n", "x.tsv")
    assert source.delimiter.value == "\t" and rows[0].values == ("1", "2", "3")
    source, rows = read(b"a|b|c\n1|2, 3|4\n")
    assert source.delimiter.value == "|" and rows[0].values == ("1", "2, 3", "4")


def test_unquoted_commas_are_error_rows_with_their_line_and_raw_text():
    data = (
        "CustomerID,CompanyName,Address,City,Phone\n"
        "ALFKI,Alfreds Futterkiste,Obere Str. 57,Berlin,030-0074321\n"
        "BONAP,Bon app',12, rue des Bouchers,Marseille,91.24.45.40\n"
        "BOLID,Bólido Comidas,C/ Araquil 67,Madrid,(91) 555 22 82\n"
        "LAMAI,La maison d'Asie,1, rue Alsace-Lorraine,Toulouse,61.77.61.10\n"
    )
    source, rows = read(data.encode())
    assert [r.line for r in good(rows)] == [2, 4]
    errors = bad(rows)
    assert [(r.line, r.code) for r in errors] == [(3, "field_count"), (5, "field_count")]
    assert errors[0].raw == "BONAP,Bon app',12, rue des Bouchers,Marseille,91.24.45.40"
    assert "6 fields instead of 5" in str(errors[0].message)
    assert source.counts.rows == 2 and source.counts.bad == 2


def test_a_row_wrapped_whole_in_quotes_is_an_error_row():
    data = (
        "Index,Account Id,Company,City\n"
        '"1,0970F,""Grimes, Madden and Huff"",Lake"\n'
        "2,0C0F1,Acme,Boston\n"
    )
    _source, rows = read(data.encode())
    assert [(r.line, r.code) for r in bad(rows)] == [(2, "field_count")]
    assert good(rows)[0].values == ("2", "0C0F1", "Acme", "Boston")


def test_an_unclosed_quote_costs_one_row_not_the_rest_of_the_file():
    lines = ["id,name,city", '1,"Ann,Paris'] + [f"{i},N{i},C{i}" for i in range(2, 2000)]
    _source, rows = read(("\n".join(lines) + "\n").encode(), limits=Limits(max_record_lines=50))
    errors = bad(rows)
    assert errors[0].line == 2 and errors[0].code == "quote"
    assert errors[0].raw.startswith('1,"Ann,Paris')
    assert len(good(rows)) == 1998 and good(rows)[0].line == 3


def test_an_unclosed_quote_at_the_end_gives_the_lines_after_it_back():
    data = 'id,name\n1,"Ann\n2,Bob\n3,Cy\n'
    _source, rows = read(data.encode())
    assert [(r.line, r.code) for r in bad(rows)] == [(2, "quote")]
    assert [r.values for r in good(rows)] == [("2", "Bob"), ("3", "Cy")]


def test_text_after_a_closing_quote_is_a_broken_quote():
    _source, rows = read(b'id,name\n1,"Ann"x\n2,Bob\n')
    assert [(r.line, r.code) for r in bad(rows)] == [(2, "quote")]
    assert good(rows)[0].values == ("2", "Bob")


def test_multiline_quoted_values_keep_their_first_line_number():
    data = 'id,notes,x\n1,"line one\nline two",a\n2,plain,b\n'
    _source, rows = read(data.encode())
    assert [(r.line, r.values[1]) for r in rows] == [(2, "line one\nline two"), (4, "plain")]


def test_blank_lines_trailing_delimiters_and_title_rows():
    data = "Customer report 2024\n\nname,city,\nAnn,Paris,\n\nBob,Rome,\n"
    source, rows = read(data.encode())
    assert source.header.value == 2 and source.columns == ("name", "city")
    assert [(r.line, r.values) for r in rows] == [(4, ("Ann", "Paris")), (6, ("Bob", "Rome"))]
    assert source.counts.blank == 2 and source.counts.before_header == 1


def test_header_row_override_and_no_header():
    data = b"x,y\nname,city\nAnn,Paris\n"
    source, rows = read(data, settings=Settings(header_row=2))
    assert source.columns == ("name", "city") and [r.values for r in rows] == [("Ann", "Paris")]
    assert source.counts.before_header == 1 and source.header.confidence == "chosen"
    source, rows = read(data, settings=Settings(header_row=0))
    assert source.columns == ("Column 1", "Column 2") and len(rows) == 3


def test_duplicate_and_blank_column_names_are_told_apart():
    source, _rows = read(b"Name,,name,Phone\n1,2,3,4\n")
    assert source.columns == ("Name", "Column 2", "name (2)", "Phone")


def test_encoding_and_delimiter_overrides():
    data = "a;b\n1,5;2\n".encode("latin-1")
    source, rows = read(data, settings=Settings(encoding="latin-1", delimiter=";"))
    assert source.encoding.confidence == "chosen" and rows[0].values == ("1,5", "2")
    with pytest.raises(UnreadableFile) as exc:
        read(data, settings=Settings(encoding="rot13"))
    assert exc.value.code == "encoding_unknown"


def test_tri_state_nulls_spaces_and_leading_zeros_are_left_for_the_parser():
    data = "id,Total,Internet,Zip,Region\n7590,  ,No internet service,01040,NULL\n"
    _source, rows = read(data.encode())
    assert rows[0].values == ("7590", "  ", "No internet service", "01040", "NULL")


def test_a_space_after_every_comma_still_reads_quotes():
    data = 'rec_id, given_name, address\nrec-1-org, ann, "1 main st, apt 2"\n'
    _source, rows = read(data.encode())
    assert rows[0].values == ("rec-1-org", "ann", "1 main st, apt 2")


@pytest.mark.parametrize(
    "data, code",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binary"),
        (b"id,name\n1,\x00\x00\x00\x01\x02\x03binary\x00\n", "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "xls"),
        (b"", "empty"),
        ("Имя,Город\nИван,Москва\nПётр,Санкт-Петербург\n".encode("koi8-r"), "encoding"),
    ],
)
def test_files_that_are_refused_whole(data, code):
    with pytest.raises(UnreadableFile) as exc:
        read(data)
    assert exc.value.code == code
    assert str(exc.value)


def test_a_file_over_the_size_limit_is_refused():
    with pytest.raises(UnreadableFile) as exc:
        read(b"a,b\n" + b"1,2\n" * 1000, limits=Limits(max_bytes=1000))
    assert exc.value.code == "too_large" and "MB" in str(exc.value)


def test_a_million_columns_is_refused():
    data = b"1," * 1_000_000 + b"\n" + b"2," * 1_000_000 + b"\n"
    with pytest.raises(UnreadableFile) as exc:
        read(data)
    assert exc.value.code == "columns" and "1000" in str(exc.value)
    data = ",".join(f"column{i}" for i in range(1_000_000)).encode() + b"\n"  # 10 MB line
    with pytest.raises(UnreadableFile) as exc:
        read(data)
    assert exc.value.code == "header"


def test_a_ten_megabyte_cell_is_a_bad_row_with_its_position():
    big = "x" * (10 * 2**20)
    data = f"id,name,notes\n1,Ann,short\n2,Bob,{big}\n3,Cy,ok\n".encode()
    _source, rows = read(data)
    errors = bad(rows)
    assert [(r.line, r.code, r.column) for r in errors] == [(3, "line_too_long", 3)]
    assert len(errors[0].raw) <= 1000
    assert [r.line for r in good(rows)] == [2, 4]


def test_a_cell_over_the_cell_limit_is_a_bad_row_with_its_column():
    data = "id,notes,x\n1,{},y\n2,ok,z\n".format("n" * 120_000).encode()
    _source, rows = read(data)
    ((line, code, column),) = [(r.line, r.code, r.column) for r in bad(rows)]
    assert (line, code, column) == (2, "cell_too_large", 2)
    data = '1,"{}",y\n'.format("n" * 200_000).encode()
    _source, rows = read(b"id,notes,x\n" + data)
    assert [(r.line, r.code, r.column) for r in bad(rows)] == [(2, "cell_too_large", 2)]


def test_formula_looking_text_is_just_text():
    _source, rows = read(b'name,link\nAnn,"=HYPERLINK(""http://x"",""x"")"\nBob,-2237\n')
    assert rows[0].values[1] == '=HYPERLINK("http://x","x")' and rows[1].values[1] == "-2237"


def test_rows_can_be_read_again_from_a_path(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    source = open_source(path, "f.csv")
    assert [r.values for r in source.rows()] == [r.values for r in source.rows()]
    assert source.preview(1)[0].values == ("1", "2")
