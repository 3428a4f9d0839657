"""Pictures the fake answers with: a real QR code as PNG, which a phone could scan."""

from __future__ import annotations

import io

import segno


def qr_png(content: str, *, scale: int = 8) -> bytes:
    """A QR code of ``content`` as PNG bytes (a quiet zone of 4 modules, as scanners want)."""
    out = io.BytesIO()
    segno.make(content, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
