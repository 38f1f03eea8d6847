"""Compiled scanner of the XML fast paths (ESPI, CIM): one pass over the bytes, no tree.

:func:`scan` accepts only a conservative subset of XML that it can check completely itself:
UTF-8 text (no U+FFFE/U+FFFF), at most a byte-order mark and an XML declaration (version 1.0,
UTF-8) at the start, no DOCTYPE, ENTITY, CDATA section or entity/character reference anywhere
(comments and processing instructions are skipped; an element with one directly inside has no
single text span), no control characters, no ``]]>``, names of ASCII letters, digits,
``_ . -`` with at most one prefix, attributes quoted and not repeated (nor two prefixed ones
with one local name), every prefix declared to a known or plain URI, nesting below
:data:`meterops.ingest.formats._xml.MAX_DEPTH`. Inside that subset every document it accepts is
well-formed and namespace-well-formed XML; anything else (valid XML outside the subset as
well as malformed input) returns None, and the caller parses the file with the reference
path (lxml and XSLT), which also produces the located error for malformed files.

The result is a table of elements (parent, namespace, local name, leaf text span, selected
attribute spans, line) from which :mod:`meterops.ingest.formats._xml_select` rebuilds the
reference stylesheets' rows with numpy, and :func:`gather_normalized` builds the
``normalize-space()`` text of many spans at once.

Pure module: standard library, numpy and numba only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["Scanned", "gather_normalized", "scan"]

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

_F = TypeVar("_F", bound=Callable[..., Any])

_MAX_TEXT: Final = 10_000_000
"""libxml2's limit on one text node without ``huge_tree``; longer → reference path. [bytes]"""
_MAX_NAME: Final = 1_000
"""Longest name the fast path accepts (libxml2 allows 50,000). [bytes]"""
_MAX_ATTRS: Final = 64
"""Most attributes on one element the fast path accepts."""
_RESERVED_URIS: Final = ("http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/")
"""Namespaces no prefix may be declared for (libxml2 refuses it): left to the reference."""
_DECLARATION: Final = re.compile(
    rb"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*([\"'])1\.0\1"
    rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*([\"'])(?:UTF-8|utf-8)\2)?"
    rb"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*([\"'])(?:yes|no)\3)?[ \t\r\n]*\?>"
)


def _name_chars() -> U8:
    table = np.zeros(256, dtype=np.uint8)
    for c in b"0123456789.-":
        table[c] = 1
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_":
        table[c] = 2
    return table


_NAME_CHAR: Final = _name_chars()
"""Per byte: 2 may start a name part (ASCII letter, ``_``), 1 only continue it, 0 neither."""


def _jit(function: _F) -> _F:
    return cast("_F", numba.njit(cache=True, nogil=True)(function))


def _inline(function: _F) -> _F:
    """Helpers are inlined into the scanner (a call per tag would cost reference counting)."""
    return cast("_F", numba.njit(cache=True, nogil=True, inline="always")(function))


@dataclass(frozen=True, slots=True)
class Scanned:
    """Elements of a scanned document, in document order (index = document order).

    Attributes:
        data: The document bytes.
        parent: Index of the parent element (-1 for the root).
        name: Index of the local name in the ``names`` given to :func:`scan` (-1: other).
        ns: Index of the namespace URI in the ``uris`` given (-1: none, -2: another URI).
        line: 1-based line of the ``<`` of the start tag.
        text_start: Start of the text of a leaf element (-1 when it has child elements).
        text_end: End (exclusive) of that text.
        name_start: Offset of the local name in ``data``.
        name_len: Length of the local name.
        attr_start: Per element and selected attribute, start of the value (-1: absent).
        attr_end: End (exclusive) of the value.
    """

    data: bytes
    parent: I64
    name: I64
    ns: I64
    line: I64
    text_start: I64
    text_end: I64
    name_start: I64
    name_len: I64
    attr_start: I64
    attr_end: I64


def _blob(items: Sequence[str]) -> tuple[U8, I64]:
    encoded = [item.encode("ascii") for item in items]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    return np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8).copy(), offsets


def scan(
    data: bytes, names: Sequence[str], uris: Sequence[str], attrs: Sequence[str], max_depth: int
) -> Scanned | None:
    """Scan ``data`` if it lies in the fast path's XML subset (see the module); else None.

    Args:
        data: The whole document.
        names: Local element names to number (others get -1).
        uris: Namespace URIs to number (others get -2; no namespace -1).
        attrs: Unprefixed attribute names whose values to locate.
        max_depth: Deepest nesting accepted.

    Examples:
        >>> s = scan(b'<a xmlns="u"><b k="v">x</b></a>', ["a", "b"], ["u"], ["k"], 8)
        >>> s.parent.tolist(), s.name.tolist(), s.ns.tolist(), s.attr_start[:, 0].tolist()
        ([-1, 0], [0, 1], [0, 0], [-1, 19])
        >>> scan(b"<a>&amp;</a>", ["a"], [], [], 8) is None
        True
    """
    if b"&" in data:
        return None  # entity and character references
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:
            return None  # U+FFFE and U+FFFF are not XML characters
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    if data.startswith(b"<?", start):
        declaration = _DECLARATION.match(data, start)
        if declaration is None:
            return None
        start = declaration.end()
    name_blob, name_off = _blob(names)
    uri_blob, uri_off = _blob([*uris, *_RESERVED_URIS])
    attr_blob, attr_off = _blob(attrs)
    buffer = np.frombuffer(data, dtype=np.uint8)
    capacity, bindings = _counts(buffer)
    result = _scan(
        buffer,
        start,
        data.count(b"\n", 0, start) + 1,
        name_blob,
        name_off,
        uri_blob,
        uri_off,
        len(uris),
        attr_blob,
        attr_off,
        capacity,
        bindings,
        max_depth,
    )
    ok, count = result[0], result[1]
    if not ok:
        return None
    arrays = [a[:count] for a in result[2:]]
    return Scanned(data, *arrays)


@_jit
def _counts(buf: np.ndarray) -> tuple[int, int]:
    """Upper bounds of the elements (``<`` not followed by ``/``) and namespace declarations.

    A namespace declaration has an ``=``; an element a start tag, which is a ``<`` that does
    not open an end tag (the compiled pass refuses anything else the count would miss).
    """
    tags = 1
    equals = 1
    n = buf.size
    for i in range(n):
        c = buf[i]
        if c == 60:
            if i + 1 >= n or buf[i + 1] != 47:
                tags += 1
        elif c == 61:
            equals += 1
    return tags, equals


@_inline
def _is_space(c: int) -> bool:
    return c == 32 or c == 10 or c == 9 or c == 13  # noqa: PLR1714 - numba compares scalars


@_inline
def _name_end(buf: np.ndarray, i: int) -> tuple[int, int]:
    """End of the (qualified) name at ``i`` and the colon's offset (-1); end -1 if not a name."""
    n = buf.size
    colon = -1
    part_start = i
    j = i
    while j < n:
        c = buf[j]
        kind = _NAME_CHAR[c]
        if j == part_start:
            if kind != 2:
                return -1, -1
        elif c == 58:
            if colon >= 0:
                return -1, -1
            colon = j
            part_start = j + 1
        elif kind == 0:
            break
        j += 1
    if j == part_start or j - i > _MAX_NAME:
        return -1, -1
    return j, colon


@_inline
def _skip_markup(buf: np.ndarray, i: int) -> int:
    """End of the comment or processing instruction at ``i`` (-1: anything else, or bad)."""
    n = buf.size
    if buf[i + 1] == 33:
        if i + 3 >= n or buf[i + 2] != 45 or buf[i + 3] != 45:
            return -1  # DOCTYPE, ENTITY, CDATA: not in the subset
        j = i + 4
        while j + 1 < n:
            if buf[j] == 45 and buf[j + 1] == 45:
                if j + 2 < n and buf[j + 2] == 62:
                    return j + 3
                return -1  # "--" inside a comment
            if buf[j] < 32 and buf[j] != 9 and buf[j] != 10 and buf[j] != 13:
                return -1
            j += 1
        return -1
    end, colon = _name_end(buf, i + 2)
    if end < 0 or colon >= 0:
        return -1
    if (
        end - (i + 2) == 3
        and (buf[i + 2] | 32) == 120
        and (buf[i + 3] | 32) == 109
        and (buf[i + 4] | 32) == 108
    ):
        return -1  # a second XML declaration
    j = end
    if j + 1 < n and buf[j] == 63 and buf[j + 1] == 62:
        return j + 2
    if j >= n or not _is_space(buf[j]):
        return -1
    while j + 1 < n:
        if buf[j] == 63 and buf[j + 1] == 62:
            return j + 2
        if buf[j] < 32 and buf[j] != 9 and buf[j] != 10 and buf[j] != 13:
            return -1
        j += 1
    return -1


@_inline
def _is_xmlns(buf: np.ndarray, i: int) -> bool:
    return bool(
        buf[i] == 120
        and buf[i + 1] == 109
        and buf[i + 2] == 108
        and buf[i + 3] == 110
        and buf[i + 4] == 115
    )


@_inline
def _plain_uri(buf: np.ndarray, start: int, end: int) -> bool:
    """A URI of the plainest form: ``scheme:`` then letters, digits and ``-._~/:?=@+``.

    At most one ``#``. Anything else (``%`` escapes, brackets, quotes…) is left to libxml2.
    """
    j = start
    while j < end:
        c = buf[j]
        letter = (c >= 65 and c <= 90) or (c >= 97 and c <= 122)
        if j == start and not letter:
            return False
        if c == 58:
            break
        if not (letter or (c >= 48 and c <= 57) or c == 43 or c == 45 or c == 46):  # noqa: PLR1714
            return False
        j += 1
    if j == start or j >= end:
        return False
    hashes = 0
    for m in range(j + 1, end):
        c = buf[m]
        if c == 35:
            hashes += 1
            continue
        ok = (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or (c >= 48 and c <= 57)
        ok = ok or c == 45 or c == 46 or c == 95 or c == 126 or c == 47 or c == 58  # noqa: PLR1714
        ok = ok or c == 63 or c == 61 or c == 64 or c == 43  # noqa: PLR1714
        if not ok:
            return False
    return hashes <= 1


@_inline
def _same(buf: np.ndarray, a: int, b: int, length: int) -> bool:
    for k in range(length):  # noqa: SIM110 - numba compiles the loop, not all()
        if buf[a + k] != buf[b + k]:
            return False
    return True


@_inline
def _lookup(buf: np.ndarray, start: int, length: int, blob: np.ndarray, offsets: np.ndarray) -> int:
    for k in range(offsets.size - 1):
        size = offsets[k + 1] - offsets[k]
        if size != length:
            continue
        match = True
        for m in range(length):
            if buf[start + m] != blob[offsets[k] + m]:
                match = False
                break
        if match:
            return k
    return -1


@_jit
def _scan(  # noqa: PLR0917 - one compiled pass over the bytes
    buf: np.ndarray,
    start: int,
    first_line: int,
    name_blob: np.ndarray,
    name_off: np.ndarray,
    uri_blob: np.ndarray,
    uri_off: np.ndarray,
    known_uris: int,
    attr_blob: np.ndarray,
    attr_off: np.ndarray,
    capacity: int,
    binding_capacity: int,
    max_depth: int,
) -> tuple[bool, int, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64]:
    n = buf.size
    n_attr = attr_off.size - 1
    parent = np.empty(capacity, dtype=np.int64)
    name = np.empty(capacity, dtype=np.int64)
    ns = np.empty(capacity, dtype=np.int64)
    line_of = np.empty(capacity, dtype=np.int64)
    text_start = np.empty(capacity, dtype=np.int64)
    text_end = np.empty(capacity, dtype=np.int64)
    name_start = np.empty(capacity, dtype=np.int64)
    name_len = np.empty(capacity, dtype=np.int64)
    attr_start = np.full((capacity, max(n_attr, 1)), -1, dtype=np.int64)
    attr_end = np.full((capacity, max(n_attr, 1)), -1, dtype=np.int64)
    stack = np.empty(max_depth + 2, dtype=np.int64)
    q_start = np.empty(max_depth + 2, dtype=np.int64)
    q_len = np.empty(max_depth + 2, dtype=np.int64)
    b_start = np.empty(binding_capacity, dtype=np.int64)
    b_len = np.empty(binding_capacity, dtype=np.int64)
    b_uri = np.empty(binding_capacity, dtype=np.int64)
    b_depth = np.empty(binding_capacity, dtype=np.int64)
    a_qs = np.empty(_MAX_ATTRS, dtype=np.int64)
    a_qe = np.empty(_MAX_ATTRS, dtype=np.int64)
    a_colon = np.empty(_MAX_ATTRS, dtype=np.int64)
    a_vs = np.empty(_MAX_ATTRS, dtype=np.int64)
    a_ve = np.empty(_MAX_ATTRS, dtype=np.int64)
    fail = (
        False,
        0,
        parent,
        name,
        ns,
        line_of,
        text_start,
        text_end,
        name_start,
        name_len,
        attr_start,
        attr_end,
    )
    depth = 0
    count = 0
    n_bind = 0
    line = first_line
    root_done = False
    text_run = 0
    i = start
    while i < n:
        if buf[i] != 60:  # text, up to the next "<"
            run_start = i
            while i < n:
                c = buf[i]
                if c == 60:
                    break
                if c < 33 or c == 62:  # the rare bytes: checked one by one
                    if c < 32 and c != 9 and c != 10 and c != 13:  # noqa: PLR1714
                        return fail
                    if c == 10:
                        line += 1
                    elif c == 62 and i >= 2 and buf[i - 1] == 93 and buf[i - 2] == 93:
                        return fail  # "]]>" is not allowed in content
                    elif depth == 0 and c == 62:
                        return fail
                elif depth == 0:
                    return fail  # only white space outside the root element
                i += 1
            if text_run + (i - run_start) > _MAX_TEXT:
                return fail
            text_run += i - run_start
            continue
        text_run = 0
        if i + 1 >= n:
            return fail
        if buf[i + 1] == 33 or buf[i + 1] == 63:  # comment or processing instruction
            j = _skip_markup(buf, i)
            if j < 0:
                return fail
            for m in range(i, j):
                if buf[m] == 10:
                    line += 1
            if depth > 0:
                text_start[stack[depth - 1]] = -1  # its string value is not one text span
            i = j
            continue
        if buf[i + 1] == 47:  # end tag
            if depth == 0:
                return fail
            end, _ = _name_end(buf, i + 2)
            if end < 0 or end - (i + 2) != q_len[depth - 1]:
                return fail
            if not _same(buf, i + 2, q_start[depth - 1], q_len[depth - 1]):
                return fail
            j = end
            while j < n and _is_space(buf[j]):
                if buf[j] == 10:
                    line += 1
                j += 1
            if j >= n or buf[j] != 62:
                return fail
            element = stack[depth - 1]
            if text_start[element] >= 0:
                text_end[element] = i
            while n_bind > 0 and b_depth[n_bind - 1] == depth:
                n_bind -= 1
            depth -= 1
            if depth == 0:
                root_done = True
            i = j + 1
            continue
        # start tag
        if root_done or depth + 1 >= max_depth or count >= capacity:
            return fail
        tag_line = line
        q0 = i + 1
        q1, colon = _name_end(buf, q0)
        if q1 < 0:
            return fail
        j = q1
        n_a = 0
        closed = False
        while True:
            had_space = False
            while j < n and _is_space(buf[j]):
                if buf[j] == 10:
                    line += 1
                had_space = True
                j += 1
            if j >= n:
                return fail
            if buf[j] == 62:
                j += 1
                break
            if buf[j] == 47:
                if j + 1 >= n or buf[j + 1] != 62:
                    return fail
                closed = True
                j += 2
                break
            if not had_space or n_a >= _MAX_ATTRS:
                return fail
            a1, a_c = _name_end(buf, j)
            if a1 < 0:
                return fail
            a_qs[n_a] = j
            a_qe[n_a] = a1
            a_colon[n_a] = a_c
            j = a1
            while j < n and _is_space(buf[j]):
                if buf[j] == 10:
                    line += 1
                j += 1
            if j >= n or buf[j] != 61:
                return fail
            j += 1
            while j < n and _is_space(buf[j]):
                if buf[j] == 10:
                    line += 1
                j += 1
            if j >= n or (buf[j] != 34 and buf[j] != 39):
                return fail
            quote = buf[j]
            j += 1
            a_vs[n_a] = j
            while j < n and buf[j] != quote:
                if buf[j] == 60:
                    return fail
                if buf[j] == 10:
                    line += 1
                j += 1
            if j >= n:
                return fail
            a_ve[n_a] = j
            j += 1
            for k in range(n_a):
                size = a_qe[k] - a_qs[k]
                if size == a1 - a_qs[n_a] and _same(buf, a_qs[k], a_qs[n_a], size):
                    return fail
            n_a += 1
        level = depth + 1
        # namespace declarations first: they apply to the element itself
        for k in range(n_a):
            qs = a_qs[k]
            size = a_qe[k] - qs
            if a_colon[k] < 0:
                is_default = size == 5 and (
                    buf[qs] == 120
                    and buf[qs + 1] == 109
                    and buf[qs + 2] == 108
                    and buf[qs + 3] == 110
                    and buf[qs + 4] == 115
                )
                if not is_default:
                    continue
            elif not (
                a_colon[k] - qs == 5
                and buf[qs] == 120
                and buf[qs + 1] == 109
                and buf[qs + 2] == 108
                and buf[qs + 3] == 110
                and buf[qs + 4] == 115
            ):
                continue  # a prefixed attribute: checked below
            vs = a_vs[k]
            ve = a_ve[k]
            for m in range(vs, ve):
                if _is_space(buf[m]):
                    return fail
            if n_bind >= binding_capacity:
                return fail
            if a_colon[k] < 0:
                b_start[n_bind] = 0
                b_len[n_bind] = 0
                b_uri[n_bind] = -1 if ve == vs else _lookup(buf, vs, ve - vs, uri_blob, uri_off)
            else:
                p0 = a_colon[k] + 1
                p_len = a_qe[k] - p0
                if ve == vs:
                    return fail
                if p_len >= 3 and buf[p0] == 120 and buf[p0 + 1] == 109 and buf[p0 + 2] == 108:
                    return fail  # xml / xmlns prefixes
                b_start[n_bind] = p0
                b_len[n_bind] = p_len
                b_uri[n_bind] = _lookup(buf, vs, ve - vs, uri_blob, uri_off)
            if b_uri[n_bind] >= known_uris:
                return fail  # the reserved xml / xmlns namespaces
            if b_uri[n_bind] == -1 and ve != vs:
                if not _plain_uri(buf, vs, ve):
                    return fail  # libxml2 refuses URIs it cannot parse; leave them to it
                b_uri[n_bind] = -2
            b_depth[n_bind] = level
            n_bind += 1
        # prefixed attributes: the prefix must be declared; no two with one local name
        for k in range(n_a):
            a_c = a_colon[k]
            if a_c < 0:
                continue
            qs = a_qs[k]
            p_len = a_c - qs
            if p_len == 5 and _is_xmlns(buf, qs):
                continue
            if not (p_len == 3 and buf[qs] == 120 and buf[qs + 1] == 109 and buf[qs + 2] == 108):
                bound = False
                for b in range(n_bind - 1, -1, -1):
                    if b_len[b] == p_len and p_len > 0 and _same(buf, b_start[b], qs, p_len):
                        bound = True
                        break
                if not bound:
                    return fail
            for m in range(k):
                if a_colon[m] >= 0:
                    size = a_qe[k] - a_c
                    if a_qe[m] - a_colon[m] == size and _same(buf, a_colon[m], a_c, size):
                        return fail
        # the element's namespace
        if colon < 0:
            p0 = 0
            p_len = 0
            local = q0
        else:
            p0 = q0
            p_len = colon - q0
            local = colon + 1
        uri = -3
        for b in range(n_bind - 1, -1, -1):
            if b_len[b] == p_len and _same(buf, b_start[b], p0, p_len):
                uri = b_uri[b]
                break
        if uri == -3:
            if p_len > 0:
                return fail  # undeclared prefix
            uri = -1
        if p_len == 3 and buf[p0] == 120 and buf[p0 + 1] == 109 and buf[p0 + 2] == 108:
            return fail
        element = count
        count += 1
        parent[element] = stack[depth - 1] if depth > 0 else -1
        if depth > 0:
            text_start[stack[depth - 1]] = -1
        name[element] = _lookup(buf, local, q1 - local, name_blob, name_off)
        ns[element] = uri
        line_of[element] = tag_line
        name_start[element] = local
        name_len[element] = q1 - local
        for k in range(n_a):
            if a_colon[k] >= 0:
                continue
            a_id = _lookup(buf, a_qs[k], a_qe[k] - a_qs[k], attr_blob, attr_off)
            if a_id >= 0:
                attr_start[element, a_id] = a_vs[k]
                attr_end[element, a_id] = a_ve[k]
        if closed:
            text_start[element] = j
            text_end[element] = j
            while n_bind > 0 and b_depth[n_bind - 1] == level:
                n_bind -= 1
            if depth == 0:
                root_done = True
        else:
            text_start[element] = j
            text_end[element] = j
            stack[depth] = element
            q_start[depth] = q0
            q_len[depth] = q1 - q0
            depth += 1
        i = j
    if depth != 0 or count == 0:
        return fail
    return (
        True,
        count,
        parent,
        name,
        ns,
        line_of,
        text_start,
        text_end,
        name_start,
        name_len,
        attr_start,
        attr_end,
    )


@_jit
def _gather(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[I64, np.ndarray]:
    n = starts.size
    total = 0
    for k in range(n):
        if starts[k] >= 0:
            total += ends[k] - starts[k]
    out = np.empty(max(total, 1), dtype=np.uint8)
    offsets = np.zeros(n + 1, dtype=np.int64)
    at = 0
    for k in range(n):
        s = starts[k]
        if s >= 0:
            pending = False
            for m in range(s, ends[k]):
                c = buf[m]
                if _is_space(c):
                    pending = at > offsets[k]
                else:
                    if pending:
                        out[at] = 32
                        at += 1
                        pending = False
                    out[at] = c
                    at += 1
        offsets[k + 1] = at
    return offsets, out[:at]


def gather_normalized(data: bytes, starts: I64, ends: I64) -> tuple[I64, U8]:
    r"""``normalize-space()`` of each span ``data[starts[k]:ends[k]]`` (start -1 → ``""``).

    Returns:
        Arrow-style ``offsets`` (length n + 1) and the concatenated ASCII ``bytes``.

    Examples:
        >>> off, out = gather_normalized(b" a  b \n c", np.array([0, -1]), np.array([9, 0]))
        >>> off.tolist(), out.tobytes()
        ([0, 5, 5], b'a b c')
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    offsets, out = _gather(
        buffer, np.ascontiguousarray(starts, np.int64), np.ascontiguousarray(ends, np.int64)
    )
    return offsets, out
