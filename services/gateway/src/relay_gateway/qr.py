"""QR codes for linking WhatsApp numbers, as PNG data URLs the browser shows directly."""

from __future__ import annotations

import base64
import io

import qrcode
from qrcode.image.pure import PyPNGImage


def qr_data_url(payload: str) -> str:
    image = qrcode.make(payload, image_factory=PyPNGImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
