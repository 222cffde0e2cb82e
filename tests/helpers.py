"""Small helpers the tests share: reading the outbox, decoding QR codes, the API error shape."""

from __future__ import annotations

import email
import io
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import zxingcpp
from PIL import Image


def read_outbox(folder: Path) -> list[EmailMessage]:
    """Every message written to the outbox folder, oldest first."""
    files = sorted(Path(folder).glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=default) for p in files]


def decode_qr(image: Image.Image | bytes) -> list[str]:
    """The texts of every QR code zxing-cpp finds in an image."""
    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    return [r.text for r in zxingcpp.read_barcodes(image.convert("L")) if r.format == zxingcpp.BarcodeFormat.QRCode]


def qr_in_message(message: EmailMessage) -> str:
    """The code in the QR image inlined in a confirmation email."""
    for part in message.walk():
        if part.get_content_type() == "image/png":
            texts = decode_qr(part.get_content())
            assert len(texts) == 1, texts
            return texts[0]
    raise AssertionError("no inline PNG in the message")


def assert_api_error(response, status: int, code: str) -> dict:
    """Check the one JSON error shape of the API and return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert response.headers["Cache-Control"] == "no-store"
    return body
