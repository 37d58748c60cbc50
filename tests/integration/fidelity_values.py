"""Seeded adversarial JSON texts for test_value_fidelity.py.

Texts, not Python values: what a gateway does to a number or a string depends on how the
client wrote it (digits past 17, `1e007`, `\\u0061` as a duplicate of `a`), so the generator
writes the bytes and `json.loads` of each fragment is what a tool must see. Every fragment is
valid JSON that stays finite (JSON cannot carry an infinity back), holds no lone surrogate and
nests at most MAX_DEPTH levels, well under the gateway's limit once inside a tools/call.
"""

from __future__ import annotations

import json
import math
import random
import struct
from decimal import Decimal, localcontext

MAX_DEPTH = 150  # the gateway accepts 160 levels; `values` is level 4 of a tools/call
Fragment = tuple[str, str]  # (kind, text): the kind groups mismatches in a report

SPECIAL_FLOATS = (
    "5e-324", "4.9406564584124654e-324", "2.2250738585072014e-308", "2.2250738585072011e-308",
    "2.2250738585072012e-308", "1.7976931348623157e308", "1.7976931348623158e+308", "-0.0", "0e0",
    "-0e-0", "0.0", "-0E+00", "115196.20000000001", "1e007", "1E-007", "1e+0", "0.1", "-1.5e-10",
    "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-400", "-2e-400", "9007199254740993.0",
    "1.00000000000000011102230246251565404236316680908203125",
    "1.00000000000000011102230246251565404236316680908203126", "123456789012345678901234567890e-10",
)
WHITESPACE = " \t\n\r"
PRINTABLE = [chr(c) for c in range(0x20, 0x80) if chr(c) not in '"\\']  # raw in a string
ESCAPES = ('\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t")


class Generator:
    """Fragments from one seeded `random.Random`; `newlines=False` keeps stdio lines whole."""

    def __init__(self, rng: random.Random, *, newlines: bool = True) -> None:
        self.rng = rng
        self.blanks = WHITESPACE if newlines else " \t"

    def fragment(self) -> Fragment:
        """One shallow value of a kind chosen by weight: numbers dominate, they break most."""
        kind = self.rng.choices(("float", "int", "string", "container", "literal"), (45, 20, 15, 15, 5))[0]
        if kind == "float":
            kind, text = self.float_text()
        elif kind == "int":
            kind, text = self.int_text()
        elif kind == "string":
            text = self.string_text()
        elif kind == "container":
            return kind, self.container(self.rng.randint(1, 5))
        else:
            text = self.rng.choice(("true", "false", "null"))
        return kind, self.ws() + text + self.ws()  # a gateway that forwards raw text must trim it

    def plain(self) -> Fragment:
        """A value every JSON library carries unchanged, to show the harness itself is sound."""
        if self.rng.random() < 0.5:
            return "plain", str(self.rng.randint(-1000, 1000))
        letters = "abcdefghijklmnopqrstuvwxyz0123456789 "
        return "plain", json.dumps("".join(self.rng.choices(letters, k=self.rng.randint(0, 12))))

    def ws(self) -> str:
        if self.rng.random() < 0.7:
            return ""
        return "".join(self.rng.choices(self.blanks, k=self.rng.randint(1, 3)))

    # --- numbers -----------------------------------------------------------------------------

    def float_text(self) -> Fragment:
        """A finite float written so that reading it back exactly takes a correct parser."""
        while True:
            kind, text = self._float_candidate()
            value = json.loads(text)
            if isinstance(value, float) and math.isfinite(value):
                return kind, text

    def _float_candidate(self) -> Fragment:
        rng = self.rng
        form = rng.choice(("special", "shortest", "neighbour", "17", "long", "midpoint", "digits"))
        if form == "special":
            return "float-special", rng.choice(SPECIAL_FLOATS)
        x = self.double()
        if form == "shortest":
            return "float-shortest", self.decimal_text(Decimal(repr(x)))
        if form == "neighbour":
            return "float-neighbour", self.decimal_text(Decimal(repr(self.neighbour(x))))
        if form == "17":
            return "float-17", self.decimal_text(Decimal(f"{x:.16e}"))
        if form == "long":
            return "float-long", self.decimal_text(Decimal(f"{x:.{rng.randint(19, 29)}e}"))
        if form == "midpoint":
            return "float-midpoint", self.decimal_text(self.near_midpoint(x))
        digits = str(rng.randint(1, 10 ** rng.randint(1, 30)))
        return "float-digits", self.decimal_text(Decimal(f"{rng.choice('+-')}{digits}e{rng.randint(-345, 290)}"))

    def double(self) -> float:
        """A finite double: any bit pattern, a subnormal, near a limit, or an everyday number."""
        rng = self.rng
        source = rng.choice(("bits", "bits", "subnormal", "limit", "everyday"))
        if source == "subnormal":
            return struct.unpack("<d", struct.pack("<Q", rng.getrandbits(52) | rng.getrandbits(1) << 63))[0]
        if source == "limit":
            return rng.choice((1.0, -1.0)) * rng.choice((5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                                                          2.0 ** 53, 2.0 ** 63, 2.0 ** 64, 0.1, 1.0))
        if source == "everyday":
            return round(rng.uniform(-1e6, 1e6), rng.randint(0, 8))
        while not math.isfinite(x := struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]):
            pass
        return x

    def neighbour(self, x: float) -> float:
        """The double 1 ULP above or below `x`, whichever is finite if only one is."""
        toward = self.rng.choice((-math.inf, math.inf))
        y = math.nextafter(x, toward)
        return y if math.isfinite(y) else math.nextafter(x, -toward)

    def near_midpoint(self, x: float) -> Decimal:
        """The exact halfway point to a neighbour (ties go to even), or a hair either side of it."""
        y = self.neighbour(x)
        with localcontext() as context:
            context.prec = 1200
            mid = (Decimal(x) + Decimal(y)) / 2
            way = self.rng.choice(("exact", "rounded", "nudged"))
            if way == "nudged" and mid:
                return mid + self.rng.choice((-1, 1)) * Decimal(10) ** (mid.adjusted() - 40)
            if way == "rounded":
                context.prec = self.rng.randint(20, 30)
                return +mid
            return mid

    def decimal_text(self, value: Decimal) -> str:
        """`value` as a JSON float: scientific, integer mantissa with exponent, or positional."""
        sign, digit_tuple, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        digits = "".join(map(str, digit_tuple)).lstrip("0") or "0"
        minus = "-" if sign else ""
        style = self.rng.choice(("scientific", "mantissa", "positional"))
        if style == "positional" and not -40 <= exponent <= 20:
            style = "scientific"
        if style == "mantissa" or style == "scientific" and len(digits) == 1:
            return f"{minus}{digits}{self.exponent(exponent)}"
        if style == "scientific":
            return f"{minus}{digits[0]}.{digits[1:]}{self.exponent(exponent + len(digits) - 1)}"
        if exponent >= 0:
            return f"{minus}{digits}{'0' * exponent}.0"
        point = len(digits) + exponent
        return f"{minus}{digits[:point]}.{digits[point:]}" if point > 0 else f"{minus}0.{'0' * -point}{digits}"

    def exponent(self, value: int) -> str:
        """`e`/`E`, an optional `+`, and sometimes leading zeros (`1e007`)."""
        sign = "-" if value < 0 else self.rng.choice(("", "+"))
        return f"{self.rng.choice('eE')}{sign}{self.rng.choice(('', '', '0', '00'))}{abs(value)}"

    def int_text(self) -> Fragment:
        """Integers at the edges of 53, 63 and 64 bits, far past them, and everyday ones."""
        rng = self.rng
        form = rng.choice(("edge", "edge", "big", "64bit", "small"))
        if form == "edge":
            value = rng.choice((1, -1)) * (2 ** rng.choice((53, 63, 64)) + rng.randint(-2, 2))
            return "int-edge", str(value)
        if form == "big":
            digits = rng.randint(30, 60)
            return "int-big", rng.choice(("", "-")) + str(rng.randint(10 ** (digits - 1), 10 ** digits - 1))
        if form == "64bit":
            return "int-64bit", str(rng.randint(-(2 ** 63), 2 ** 64 - 1))
        return "int-small", rng.choice(("-0", "0", "12345678901234567890123", str(rng.randint(-10 ** 6, 10 ** 6))))

    # --- strings -----------------------------------------------------------------------------

    def string_text(self, longest: int = 24, *, rarely_long: bool = True) -> str:
        """A JSON string mixing raw and escaped characters; now and then a few KiB long."""
        long = rarely_long and self.rng.random() < 0.03
        count = self.rng.randint(300, 800) if long else self.rng.randint(0, longest)
        return '"' + "".join(self.string_piece() for _ in range(count)) + '"'

    def string_piece(self) -> str:
        rng = self.rng
        form = rng.choice(("ascii", "ascii", "escape", "control", "bmp", "pair", "raw_bmp", "raw_astral"))
        if form == "ascii":
            return rng.choice(PRINTABLE)
        if form == "escape":
            return rng.choice(ESCAPES)
        if form == "control":
            return self.hex_escape(rng.randint(0, 0x1F))
        if form == "bmp":
            return self.hex_escape(self.bmp_point())
        if form == "pair":
            high, low = divmod(rng.randint(0x10000, 0x10FFFF) - 0x10000, 0x400)
            return self.hex_escape(0xD800 + high) + self.hex_escape(0xDC00 + low)
        if form == "raw_bmp":
            return chr(self.bmp_point())
        return chr(rng.choice((0x1F600, 0x1D11E, 0x10000, 0x10FFFF, rng.randint(0x10000, 0x10FFFF))))

    def bmp_point(self) -> int:
        """A BMP code point that is not a surrogate (U+2028, U+FEFF, U+FFFF included)."""
        while 0xD800 <= (point := self.rng.choice((0x2028, 0xFEFF, 0xFFFF, self.rng.randint(0x80, 0xFFFF)))) <= 0xDFFF:
            pass
        return point

    def hex_escape(self, point: int) -> str:
        text = f"\\u{point:04x}"
        return text.upper().replace("\\U", "\\u") if self.rng.random() < 0.5 else text

    # --- containers --------------------------------------------------------------------------

    def container(self, depth: int) -> str:
        """An array or object nesting at most `depth` levels; objects repeat keys on purpose."""
        rng = self.rng
        wide = rng.random() < 0.05
        count = rng.randint(50, 300) if wide else rng.randint(0, 6)
        inner = (lambda: self.scalar()) if wide or depth <= 1 else (lambda: self.member(depth - 1))
        if rng.random() < 0.5:
            return self.wrap("[", [inner() for _ in range(count)], "]")
        keys = [self.key() for _ in range(count)]
        keys += [rng.choice(keys) for _ in range(rng.randint(0, 2))] if keys else []  # written twice
        return self.wrap("{", [f"{key}{self.ws()}:{self.ws()}{inner()}" for key in keys], "}")

    def member(self, depth: int) -> str:
        return self.container(depth) if self.rng.random() < 0.3 else self.scalar()

    def key(self) -> str:
        """Keys from a small pool, `\\u0061` spelling `a`, so that duplicates are common."""
        return self.rng.choice(('"a"', '"\\u0061"', '"b"', '"k\\/1"', '""', self.string_text(6, rarely_long=False)))

    def scalar(self) -> str:
        rng = self.rng
        form = rng.choice(("float", "int", "string", "literal"))
        if form == "float":
            return self.ws() + self.float_text()[1] + self.ws()
        if form == "int":
            return self.ws() + self.int_text()[1] + self.ws()
        if form == "string":
            return self.ws() + self.string_text(8, rarely_long=False) + self.ws()
        return self.ws() + rng.choice(("true", "false", "null")) + self.ws()

    def wrap(self, opener: str, members: list[str], closer: str) -> str:
        return self.ws() + opener + self.ws() + ",".join(members) + self.ws() + closer + self.ws()

    def deep(self, depth: int) -> Fragment:
        """Arrays and objects nested `depth` levels, with siblings at some levels; "deep" past the
        60 levels (a 64-level parser refuses them inside a tools/call), "nested" below."""
        head, tail = [], []
        for _ in range(depth):
            before = self.scalar() + "," if self.rng.random() < 0.2 else ""
            after = "," + self.scalar() if self.rng.random() < 0.2 else ""
            if self.rng.random() < 0.5:
                head.append("[" + before)
                tail.append(after + "]")
            else:
                head.append("{" + (f'"x":{self.scalar()},' if before else "") + self.key() + ":")
                tail.append((f',"y":{self.scalar()}' if after else "") + "}")
        return "deep" if depth >= 60 else "nested", "".join(head) + self.scalar() + "".join(reversed(tail))
