"""Barcodes for lot labels: Code 128 (own encoder, no third-party code) and QR Code (through segno).

Code 128 follows ISO/IEC 15417 (the same symbology as GS1-128 without the FNC1 prefix):

* A symbol is: start character, data characters, check character, stop character, with a quiet zone of at least
  10 modules on each side.
* Each symbol character is 3 bars and 3 spaces, each 1..4 modules wide, 11 modules in all; the stop character has
  a fourth bar (2331112, 13 modules).  The table below is the standard's table (values 0..105, then the stop).
* Code set B covers printable ASCII 32..126 with value = ord(char) - 32.  Code set C encodes two digits "00".."99"
  per symbol character with value = int(pair).  99 switches to C, 100 switches from C to B.
* Check character = (start value + sum(position_i * value_i)) mod 103, positions counted from 1 over the characters
  after the start (code set switches included).

Code set choice follows the minimisation guidelines of ISO/IEC 15417 (informative annex) restricted to sets B and C:
start in C when the data is exactly two digits or begins with four or more digits (an odd leading run leaves its
last digit to B); in B, a run of four or more digits switches to C, after its first digit when the run is odd.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "BarcodeError",
    "CODE128_PATTERNS",
    "START_B",
    "START_C",
    "STOP",
    "code128_checksum",
    "code128_modules",
    "code128_svg",
    "code128_values",
    "qr_svg",
]

START_A = 103
START_B = 104
START_C = 105
CODE_C = 99
CODE_B = 100
STOP = 106

# Bar/space widths in modules (bar first) for symbol values 0..105, then the stop character (index 106).
# Symbol character table of ISO/IEC 15417, reprinted in the GS1 General Specifications (GS1-128 chapter).
# fmt: off
CODE128_PATTERNS: tuple[str, ...] = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",  # 0-9
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",  # 10-19
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",  # 20-29
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",  # 30-39
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",  # 40-49
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",  # 50-59
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",  # 60-69
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",  # 70-79
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",  # 80-89
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",  # 90-99
    "114131", "311141", "411131", "211412", "211214", "211232",  # 100-105 (103-105: Start A, B, C)
    "2331112",  # 106: stop
)
# fmt: on

QUIET_MODULES = 10


class BarcodeError(ValueError):
    """The text cannot be encoded in the requested symbology."""


def _check_text(text: str) -> None:
    if not text:
        raise BarcodeError("Code 128 needs at least one character; the text is empty")
    for position, char in enumerate(text, start=1):
        if not 32 <= ord(char) <= 126:
            raise BarcodeError(
                f"Code 128 cannot encode {char!r} (U+{ord(char):04X}) at position {position} of {text!r}: "
                "only printable ASCII (32..126) is accepted"
            )


def _digit_run(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end].isascii() and text[end].isdigit():
        end += 1
    return end - start


def code128_checksum(values: list[int]) -> int:
    """Check character for ``values`` = [start, data...]: (start + sum(i * value_i, i = 1..n)) mod 103."""
    if not values:
        raise BarcodeError("a Code 128 symbol needs a start character")
    return (values[0] + sum(position * value for position, value in enumerate(values[1:], start=1))) % 103


def code128_values(text: str) -> list[int]:
    """Symbol values for ``text``: start character, data (with code set switches), check character; no stop.

    Only printable ASCII 32..126 is accepted (code sets B and C); the position in a refusal counts from 1.
    """
    _check_text(text)
    leading = _digit_run(text, 0)
    if leading >= 4 or (leading == len(text) == 2):
        values = [START_C]
        code_set = "C"
    else:
        values = [START_B]
        code_set = "B"
    i = 0
    while i < len(text):
        run = _digit_run(text, i)
        if code_set == "C":
            if run >= 2:
                values.append(int(text[i : i + 2]))
                i += 2
                continue
            values.append(CODE_B)
            code_set = "B"
        if run >= 4:
            if run % 2:
                values.append(ord(text[i]) - 32)
                i += 1
            values.append(CODE_C)
            code_set = "C"
            continue
        values.append(ord(text[i]) - 32)
        i += 1
    values.append(code128_checksum(values))
    return values


def code128_modules(text: str) -> list[int]:
    """Bar and space widths in modules, bar first, for the whole symbol of ``text`` including the stop pattern.

    The quiet zones are not included.  Total width = 11 * (number of values) + 13 modules.
    """
    widths: list[int] = []
    for value in [*code128_values(text), STOP]:
        widths.extend(int(w) for w in CODE128_PATTERNS[value])
    return widths


def _num(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def code128_svg(
    text: str,
    module_px: float = 2.0,
    height_px: float = 60,
    quiet_modules: int = QUIET_MODULES,
    human_readable: bool = True,
) -> str:
    """A standalone SVG of the Code 128 symbol for ``text``.

    Width = (modules + 2 * quiet_modules) * module_px, white background, one ``rect`` per bar; with
    ``human_readable`` the text is printed under the bars (XML-escaped).  ISO/IEC 15417 requires quiet zones of
    at least 10 modules, so ``quiet_modules`` below 10 is refused.
    """
    if quiet_modules < QUIET_MODULES:
        raise BarcodeError(f"Code 128 needs a quiet zone of at least {QUIET_MODULES} modules, got {quiet_modules}")
    if module_px <= 0 or height_px <= 0:
        raise BarcodeError("module_px and height_px must be positive")
    widths = code128_modules(text)
    total = sum(widths) + 2 * quiet_modules
    width = total * module_px
    font_px = max(8.0, module_px * 7)
    height = height_px + (font_px * 1.4 if human_readable else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" aria-label={quoteattr("Code 128: " + text)}>',
        f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#fff"/>',
        '<g fill="#000" shape-rendering="crispEdges">',
    ]
    x = quiet_modules
    for index, w in enumerate(widths):
        if index % 2 == 0:
            parts.append(
                f'<rect x="{_num(x * module_px)}" y="0" width="{_num(w * module_px)}" height="{_num(height_px)}"/>'
            )
        x += w
    parts.append("</g>")
    if human_readable:
        parts.append(
            f'<text x="{_num(width / 2)}" y="{_num(height_px + font_px * 1.1)}" text-anchor="middle" '
            f'font-family="monospace" font-size="{_num(font_px)}" fill="#000">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def qr_svg(text: str, scale: float = 4, error: str = "m") -> str:
    """A QR Code (ISO/IEC 18004) SVG for ``text`` made by segno, without XML declaration, for inline use.

    ``error`` is the minimum error correction level (l, m, q, h); segno raises it when that costs no extra size.
    The symbol has the standard 4-module quiet zone on a white background, ``width``/``height`` in px and a
    ``viewBox`` so CSS can resize it.
    """
    # Imported here: segno is loaded by the labels that use a QR Code only.
    import segno

    if not text:
        raise BarcodeError("a QR Code needs at least one character; the text is empty")
    try:
        qr = segno.make_qr(text, error=error)
    except (ValueError, segno.DataOverflowError) as exc:
        raise BarcodeError(f"cannot make a QR Code for {text!r}: {exc}") from exc
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", xmldecl=False, svgns=True, scale=scale, unit="px", light="#fff", dark="#000")
    return buffer.getvalue().decode("utf-8")
