"""PNG metadata for exports: the edit recipe in an iTXt chunk plus XMP declaring AI-generated media.

Chunks written (before the first IDAT):

* iTXt ``StyleDomain-Recipe``: the recipe JSON, UTF-8, zlib-compressed;
* iTXt ``XML:com.adobe.xmp``: an XMP packet with ``Iptc4xmpExt:DigitalSourceType`` =
  ``http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia``.

``strip=True`` writes pixels only (no text, XMP, ICC or other ancillary chunks). Reading parses the
chunk stream directly and checks the recipe chunk's CRC, so a damaged recipe is reported instead of
silently skipped. Like Pillow's limits on text chunks, no chunk is read past :data:`MAX_CHUNK_BYTES`
and no compressed text inflates past :data:`MAX_TEXT_BYTES` (a zlib bomb is refused, not expanded);
image data is skipped, never read.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.errors import FileProblem
from engine.fileio import atomic_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RECIPE_KEYWORD = "StyleDomain-Recipe"
XMP_KEYWORD = "XML:com.adobe.xmp"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: Most bytes a metadata text may inflate to (an inline 1024 px W+ recipe is about 0.2 MB).
MAX_TEXT_BYTES = 8 * 2**20
#: Most bytes of one text chunk read from the file.
MAX_CHUNK_BYTES = MAX_TEXT_BYTES

XMP_TEMPLATE = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""\n'
    '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
    '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
    '    Iptc4xmpExt:DigitalSourceType="{source_type}"\n'
    '    xmp:CreatorTool="StyleDomain Studio"/>\n'
    ' </rdf:RDF>\n'
    '</x:xmpmeta>\n'
    '<?xpacket end="w"?>'
)


@dataclass
class PngMetadata:
    recipe_text: str | None
    xmp: str | None

    @property
    def digital_source_type(self) -> str | None:
        if not self.xmp:
            return None
        marker = 'DigitalSourceType="'
        i = self.xmp.find(marker)
        return None if i < 0 else self.xmp[i + len(marker) : self.xmp.index('"', i + len(marker))]


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def itxt_chunk(keyword: str, text: str, compress: bool) -> bytes:
    body = text.encode("utf-8")
    if compress:
        body = zlib.compress(body, 9)
    data = keyword.encode("latin-1") + b"\0" + bytes([1 if compress else 0, 0]) + b"\0" + b"\0" + body
    return _chunk(b"iTXt", data)


def iter_chunks(data: bytes, origin: str | os.PathLike) -> list[tuple[bytes, bytes, bool]]:
    """(type, data, crc_ok) for every chunk; a truncated stream is an error."""
    if not data.startswith(PNG_SIGNATURE):
        raise FileProblem(origin, "not a PNG file")
    pos, out = len(PNG_SIGNATURE), []
    while pos < len(data):
        if pos + 8 > len(data):
            raise FileProblem(origin, "truncated PNG file")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise FileProblem(origin, "truncated PNG file")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : end])
        out.append((ctype, body, zlib.crc32(ctype + body) & 0xFFFFFFFF == crc))
        pos = end
        if ctype == b"IEND":
            break
    return out


def encode_png(pil: Image.Image, recipe_text: str | None = None, strip: bool = False) -> bytes:
    """PNG bytes: pixels, and unless ``strip`` the recipe (when given) and the XMP disclosure."""
    clean = Image.fromarray(np.asarray(pil.convert("RGB")))  # drops any inherited info (ICC, text)
    buf = io.BytesIO()
    clean.save(buf, format="PNG")
    png = buf.getvalue()
    if strip:
        return png
    extra = b""
    if recipe_text is not None:
        extra += itxt_chunk(RECIPE_KEYWORD, recipe_text, compress=True)
    extra += itxt_chunk(XMP_KEYWORD, XMP_TEMPLATE.format(source_type=TRAINED_ALGORITHMIC_MEDIA), compress=False)
    pos = len(PNG_SIGNATURE)
    while png[pos + 4 : pos + 8] != b"IDAT":  # walk the chunks Pillow wrote to the first IDAT
        pos += 12 + struct.unpack(">I", png[pos : pos + 4])[0]
    return png[:pos] + extra + png[pos:]


def save_png(pil: Image.Image, path: str | os.PathLike, recipe_text: str | None = None, strip: bool = False) -> Path:
    """Write atomically (temp file beside the target, then rename)."""
    path = Path(path)
    data = encode_png(pil, recipe_text, strip)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def _parse_itxt(body: bytes, origin, what: str) -> tuple[str, str]:
    try:
        keyword, rest = body.split(b"\0", 1)
        flag, method = rest[0], rest[1]
        _lang, rest = rest[2:].split(b"\0", 1)
        _translated, text = rest.split(b"\0", 1)
        if flag:
            if method != 0:
                raise ValueError(f"unknown compression method {method}")
            text = inflate_limited(text, MAX_TEXT_BYTES, origin, what)
        elif len(text) > MAX_TEXT_BYTES:
            raise FileProblem(origin, f"{what} chunk is larger than {MAX_TEXT_BYTES // 2**20} MB; refusing it")
        return keyword.decode("latin-1"), text.decode("utf-8")
    except (ValueError, IndexError, zlib.error, UnicodeDecodeError) as exc:
        raise FileProblem(origin, f"{what} chunk is corrupt ({exc})") from None


def inflate_limited(data: bytes, limit: int, origin, what: str) -> bytes:
    """zlib-decompress at most ``limit`` bytes; more (a decompression bomb) or a truncated stream is an error."""
    z = zlib.decompressobj()
    out = z.decompress(data, limit + 1)
    if len(out) > limit or z.unconsumed_tail:
        raise FileProblem(origin, f"{what} chunk inflates to more than {limit // 2**20} MB "
                                  "(a decompression bomb?); refusing it")
    if not z.eof:
        raise FileProblem(origin, f"{what} chunk is corrupt (truncated compressed text)")
    return out


def _text_chunks(f, origin) -> list[tuple[bytes, bool]]:
    """(iTXt body, crc_ok) of a PNG stream; other chunks are skipped without reading them."""
    if f.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        raise FileProblem(origin, "not a PNG file")
    size = os.fstat(f.fileno()).st_size
    out = []
    while True:
        head = f.read(8)
        if not head:
            return out
        if len(head) < 8:
            raise FileProblem(origin, "truncated PNG file")
        (length,) = struct.unpack(">I", head[:4])
        ctype = head[4:]
        if ctype == b"iTXt":
            if length > MAX_CHUNK_BYTES:
                raise FileProblem(origin, f"a text chunk of {length / 2**20:.0f} MB is larger than "
                                          f"{MAX_CHUNK_BYTES // 2**20} MB; refusing it")
            body, crc = f.read(length), f.read(4)
            if len(body) < length or len(crc) < 4:
                raise FileProblem(origin, "truncated PNG file")
            out.append((body, zlib.crc32(ctype + body) & 0xFFFFFFFF == struct.unpack(">I", crc)[0]))
        elif f.seek(length + 4, os.SEEK_CUR) > size:
            raise FileProblem(origin, "truncated PNG file")
        if ctype == b"IEND":
            return out


def read_png_metadata(path: str | os.PathLike) -> PngMetadata:
    """Recipe text and XMP packet of a PNG (None where absent)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            chunks = _text_chunks(f, p)
    except OSError as exc:
        raise FileProblem(p, f"cannot read ({exc.strerror or exc})") from None
    recipe, xmp = None, None
    for body, crc_ok in chunks:
        keyword = body.split(b"\0", 1)[0]
        if keyword == RECIPE_KEYWORD.encode():
            if not crc_ok:
                raise FileProblem(p, "recipe chunk is corrupt (CRC mismatch)")
            recipe = _parse_itxt(body, p, "recipe")[1]
        elif keyword == XMP_KEYWORD.encode() and crc_ok:
            xmp = _parse_itxt(body, p, "XMP")[1]
    return PngMetadata(recipe, xmp)
