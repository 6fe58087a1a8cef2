"""Code 128 against published worked examples and the structure of the symbology, a decoder written here for
round trips, and the QR Code SVG from segno.

Sources of the worked examples:
* Wikipedia, "Code 128" (https://en.wikipedia.org/wiki/Code_128), section "Check digit calculation": PJJ123C in
  code set A, values P 48, J 42, J 42, 1 17, 2 18, 3 19, C 35, weighted sum 878 including Start A (103),
  check value 54 ("V").  Same article: "X00Y" in code set B is [Start B] 56 16 16 57 [checksum] [Stop], 7 symbols,
  and "There are 108 possible 11-unit wide symbols, and the code uses all possible symbols", two of them being
  the stop and the reverse stop.
* barcoderesource.com, "Calculation of Code128 Check Character"
  (https://barcoderesource.com/images/code128_check_character.html): Code 128A "ABCDEF" -> 866 % 103 = 42;
  Code 128B "abcdef" -> 1539 % 103 = 97; Code 128C "345678" -> 34, 56, 78 -> 485 % 103 = 73.
* BarcodeIsland, "Code 128" (http://www.barcodeisland.com/code128.phtml): "HI345678" as START-A H I CODE-C 34 56
  78, values 103, 40, 41, 99, 34, 56, 78, sum 1406, check 67; Start A 11010000100, Start B 11010010000,
  Start C 11010011100, stop 11000111010 followed by the termination bar 11.
* ISO/IEC 15417:2007 Figure 1 ("AIM") and Annex A.1 ("AIM1234": 104 33 41 45 99 12 34, check 87), as transcribed
  with module strings in zint's tests (https://github.com/zint/zint, backend/tests/test_code128.c, test_encode and
  test_input); the same file gives "1234567890" as module strings in code sets C and B and the value lists of
  "1", "12", "123", "1234", "12345" and "AAAa12345aAA".
"""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopfloor.reports.barcode import (
    CODE128_PATTERNS,
    STOP,
    BarcodeError,
    code128_checksum,
    code128_modules,
    code128_svg,
    code128_values,
    qr_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def bits(widths: str | list[int]) -> str:
    """Bar/space widths as a module string, 1 for bar and 0 for space, bar first."""
    return "".join(("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(widths))


def decode(widths: list[int]) -> str:
    """Widths -> symbol values -> text for symbols in code sets B and C; checks the stop and the check character."""
    by_pattern = {pattern: value for value, pattern in enumerate(CODE128_PATTERNS)}
    assert sum(widths[-7:]) == 13 and "".join(map(str, widths[-7:])) == CODE128_PATTERNS[STOP]
    body = widths[:-7]
    assert len(body) % 6 == 0
    values = [by_pattern["".join(map(str, body[i : i + 6]))] for i in range(0, len(body), 6)]
    *symbol, check = values
    assert code128_checksum(symbol) == check
    start, *data = symbol
    assert start in (104, 105)
    code_set = "B" if start == 104 else "C"
    out = []
    for value in data:
        if code_set == "B":
            assert value <= 99, f"value {value} is not used in code set B here"
            if value == 99:
                code_set = "C"
            else:
                out.append(chr(value + 32))
        else:
            assert value <= 100, f"value {value} is not used in code set C here"
            if value == 100:
                code_set = "B"
            else:
                out.append(f"{value:02d}")
    return "".join(out)


# -- published worked examples --------------------------------------------------------------------------------


def test_wikipedia_check_digit_example_pjj123c_in_code_set_a():
    values = [103, 48, 42, 42, 17, 18, 19, 35]
    assert 103 + sum(i * v for i, v in enumerate(values[1:], start=1)) == 878
    assert code128_checksum(values) == 54


def test_pjj123c_encoded_in_code_set_b_has_the_published_data_values():
    # The data values of PJJ123C are the same in code sets A and B (Wikipedia table); with Start B (104)
    # instead of Start A (103) the weighted sum is 878 + 1 = 879 and the check value 879 % 103 = 55.
    assert code128_values("PJJ123C") == [104, 48, 42, 42, 17, 18, 19, 35, 55]


def test_barcoderesource_examples():
    assert code128_checksum([103, 33, 34, 35, 36, 37, 38]) == 42  # Code 128A "ABCDEF"
    assert code128_values("abcdef") == [104, 65, 66, 67, 68, 69, 70, 97]
    assert code128_values("345678") == [105, 34, 56, 78, 73]


def test_barcodeisland_hi345678_switching_to_code_set_c():
    assert code128_checksum([103, 40, 41, 99, 34, 56, 78]) == 67
    # Encoded here with Start B: same data and switch, weighted sum 1406 + 1 = 1407, check 1407 % 103 = 68.
    assert code128_values("HI345678") == [104, 40, 41, 99, 34, 56, 78, 68]


def test_iso_15417_figure_1_aim_module_string():
    expected = "11010010000101000110001100010001010111011000101110110001100011101011"
    assert bits(code128_modules("AIM")) == expected


def test_iso_15417_annex_a1_aim1234():
    assert code128_values("AIM1234") == [104, 33, 41, 45, 99, 12, 34, 87]


def test_zint_1234567890_module_strings_in_code_sets_c_and_b():
    set_c = "110100111001011001110010001011000111000101101100001010011011110110100111100101100011101011"
    assert bits(code128_modules("1234567890")) == set_c
    set_b = (
        "1101001000010011100110110011100101100101110011001001110110111001001100111010011101101110111010011001110010"
        "110010011101100101000110001100011101011"
    )
    values = [104] + [ord(c) - 32 for c in "1234567890"]
    values.append(code128_checksum(values))
    assert bits("".join(CODE128_PATTERNS[v] for v in [*values, STOP])) == set_b


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", [104, 17, 18]),
        ("12", [105, 12, 14]),
        ("123", [104, 17, 18, 19, 8]),
        ("1234", [105, 12, 34, 82]),
        ("12345", [105, 12, 34, 100, 21, 54]),
        ("AAAa12345aAA", [104, 33, 33, 33, 65, 17, 99, 23, 45, 100, 65, 33, 33, 54]),
    ],
)
def test_zint_value_lists(text, expected):
    assert code128_values(text) == expected


def test_barcodeisland_start_and_stop_patterns():
    assert bits(CODE128_PATTERNS[103]) == "11010000100"
    assert bits(CODE128_PATTERNS[104]) == "11010010000"
    assert bits(CODE128_PATTERNS[105]) == "11010011100"
    assert bits(CODE128_PATTERNS[STOP]) == "11000111010" + "11"


def test_wikipedia_x00y_stays_in_code_set_b():
    values = code128_values("X00Y")
    assert values[:5] == [104, 56, 16, 16, 57]
    assert len(values) + 1 == 7  # with the stop


def test_the_table_is_every_possible_11_module_symbol():
    # Wikipedia: 108 possible symbols of 3 bars and 3 spaces, 1..4 modules each, 11 in all (bars an even number
    # of modules), and Code 128 uses them all: values 0..105, the stop (233111 + a 2-module bar) and the
    # reverse stop (211133).
    possible = {
        "".join(map(str, w)) for w in itertools.product(range(1, 5), repeat=6) if sum(w) == 11 and sum(w[::2]) % 2 == 0
    }
    assert len(possible) == 108
    assert set(CODE128_PATTERNS[:106]) | {CODE128_PATTERNS[STOP][:6], "211133"} == possible


# -- structure ------------------------------------------------------------------------------------------------


def test_every_pattern_has_eleven_modules_and_starts_with_a_bar():
    assert len(CODE128_PATTERNS) == 107
    assert len(set(CODE128_PATTERNS)) == 107
    for value, pattern in enumerate(CODE128_PATTERNS[:106]):
        widths = [int(w) for w in pattern]
        assert len(widths) == 6 and sum(widths) == 11, value
        assert all(1 <= w <= 4 for w in widths), value
        assert sum(widths[::2]) % 2 == 0 and sum(widths[1::2]) % 2 == 1, value
        assert bits(pattern).startswith("1") and bits(pattern).endswith("0"), value
    stop = [int(w) for w in CODE128_PATTERNS[STOP]]
    assert len(stop) == 7 and sum(stop) == 13


def test_modules_are_the_patterns_of_the_values_then_the_stop():
    widths = code128_modules("PJJ123C")
    assert sum(widths) == 11 * 9 + 13
    assert widths[:6] == [2, 1, 1, 2, 1, 4]  # Start B
    assert widths[-7:] == [2, 3, 3, 1, 1, 1, 2]
    assert bits(widths).startswith("1") and bits(widths).endswith("1")


def test_code_set_c_for_a_run_of_digits_makes_the_symbol_shorter():
    # (105 + 1*12 + 2*34 + 3*56 + 4*78) % 103 = 665 % 103 = 47
    assert code128_values("12345678") == [105, 12, 34, 56, 78, 47]
    all_b = (1 + 8 + 1) * 11 + 13  # start, 8 characters, check, stop
    assert sum(code128_modules("12345678")) == 6 * 11 + 13 < all_b


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1234", [104, 33, 99, 12, 34]),  # even run of 4 in B
        ("A12345B", [104, 33, 17, 99, 23, 45, 100, 34]),  # odd run: switch after the first digit
        ("AB123C", [104, 33, 34, 17, 18, 19, 35]),  # run of 3 stays in B
        ("123456A", [105, 12, 34, 56, 100, 33]),  # even leading run, then B
        ("A-1234", [104, 33, 13, 99, 12, 34]),  # even run of 4 at the end
    ],
)
def test_code_set_choice(text, expected):
    values = code128_values(text)
    assert values[:-1] == expected
    assert values[-1] == code128_checksum(expected)


printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)
digit_heavy = st.text(alphabet="0123456789-A ", min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.one_of(printable, digit_heavy))
def test_round_trip_through_the_widths(text):
    widths = code128_modules(text)
    assert decode(widths) == text
    values = code128_values(text)
    assert len(values) <= len(text) + 2  # never longer than code set B alone
    assert sum(widths) == 11 * len(values) + 13


@pytest.mark.parametrize(
    ("text", "char", "position"),
    [("Café", "'é'", 4), ("LOT\t7", "'\\t'", 4), ("용접", "'용'", 1), ("A\x7f", "'\\x7f'", 2)],
)
def test_characters_outside_printable_ascii_are_refused_by_name_and_position(text, char, position):
    with pytest.raises(BarcodeError, match=re.escape(f"{char} (U+")) as info:
        code128_values(text)
    assert f"at position {position}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_empty_text_is_refused():
    with pytest.raises(BarcodeError, match="empty"):
        code128_values("")


# -- SVG ------------------------------------------------------------------------------------------------------


def test_code128_svg_bars_quiet_zones_and_escaped_text():
    text = "A&B<7>"
    svg = code128_svg(text, module_px=2, height_px=50, human_readable=True)
    root = ET.fromstring(svg)
    widths = code128_modules(text)
    assert float(root.get("width")) == (sum(widths) + 20) * 2
    background, *bars = root.iter(f"{SVG}rect")
    assert background.get("fill") == "#fff"
    assert [float(r.get("width")) / 2 for r in bars] == widths[::2]
    assert float(bars[0].get("x")) == 10 * 2  # 10-module quiet zone
    assert float(bars[-1].get("x")) + float(bars[-1].get("width")) == float(root.get("width")) - 10 * 2
    assert root.find(f"{SVG}text").text == text


def test_code128_svg_without_text():
    root = ET.fromstring(code128_svg("L-1", height_px=40, human_readable=False))
    assert root.find(f"{SVG}text") is None
    assert float(root.get("height")) == 40


def test_qr_svg_is_well_formed_and_grows_with_the_text():
    short = qr_svg("L-1")
    long = qr_svg("L-2026-03-01-" + "0123456789" * 12)
    assert not short.startswith("<?xml")
    sizes = []
    for svg in (short, long):
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg"
        width, height = (float(root.get(k).removesuffix("px")) for k in ("width", "height"))
        assert width == height and width % 4 == 0
        sizes.append(width)
    assert sizes[0] == (21 + 2 * 4) * 4  # version 1 (21 x 21 modules) with the 4-module quiet zone, scale 4
    assert sizes[1] > sizes[0]


def test_qr_svg_refuses_empty_text():
    with pytest.raises(BarcodeError):
        qr_svg("")
