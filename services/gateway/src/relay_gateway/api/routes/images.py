"""Images a bot may send when a customer's words match their keywords."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Response, UploadFile
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from relay_gateway.api.deps import AdminDep, ReaderDep, StateDep
from relay_gateway.errors import ApiError, ErrorBody
from relay_gateway.repo import audit
from relay_gateway.repo import bots as bots_repo
from relay_gateway.repo import images as repo

router = APIRouter(tags=["images"])

CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
}
"""Pillow's format -> what we store and serve. MPO is a camera JPEG with extra frames."""
DECODERS = ["JPEG", "PNG", "WEBP"]
"""The only decoders that may look at uploaded bytes (JPEG's also opens MPO)."""
MAX_PIXELS = 24_000_000
"""Decoding is checked in full (truncation); this bounds its memory (~100 MB RGBA)."""
MAX_IMAGES_PER_BOT = 200
MAX_KEYWORDS = 20
MAX_KEYWORD_CHARS = 50
IMMUTABLE = "private, max-age=31536000, immutable"

UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "too large"},
    415: {"model": ErrorBody, "description": "unsupported media type"},
}

Keyword = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_KEYWORD_CHARS),
]


class BotImagePublic(BaseModel):
    id: UUID
    bot_id: UUID
    sha256: str = Field(description="Hex sha256 of the bytes; the same bytes are stored once.")
    content_type: str
    size_bytes: int
    original_name: str
    keywords: list[str] = Field(
        description="Lower case; the bot sends the image when one "
        "appears in a customer's message (case and accents ignored)."
    )
    created_at: datetime
    content_url: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> BotImagePublic:
        return cls(**row, content_url=f"/api/v1/bots/{row['bot_id']}/images/{row['id']}/content")


class KeywordsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[Keyword] = Field(max_length=MAX_KEYWORDS)


def normalized_keywords(keywords: list[str]) -> list[str]:
    """Lower case, single spaces, each once, in the order given."""
    seen: dict[str, None] = {}
    for keyword in keywords:
        cleaned = " ".join(keyword.split()).lower()
        if not cleaned or len(cleaned) > MAX_KEYWORD_CHARS:
            raise ApiError(
                422, f"Each keyword needs 1 to {MAX_KEYWORD_CHARS} characters.", details=keyword
            )
        if any(unicodedata.category(c).startswith("C") for c in cleaned):
            raise ApiError(422, "Keywords cannot hold control characters.")
        seen.setdefault(cleaned)
    if len(seen) > MAX_KEYWORDS:
        raise ApiError(422, f"At most {MAX_KEYWORDS} keywords.")
    return list(seen)


def safe_name(name: str | None, content_type: str) -> str:
    """The file's own name without folders or control characters, at most 255 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    cleaned = "".join(c for c in base if not unicodedata.category(c).startswith("C")).strip()
    return cleaned[:255] or f"image.{content_type.removeprefix('image/')}"


def image_type(data: bytes) -> str:
    """The content type of ``data`` judged by decoding it; ApiError unless it is a whole
    JPEG, PNG or WebP image of a sane size."""
    unsupported = ApiError(415, "Upload a JPEG, PNG or WebP image.", code="unsupported_media_type")
    Image.init()  # registers the WebP decoder (once)
    try:
        # Opening reads only the header; the size is checked before anything is decoded.
        with Image.open(io.BytesIO(data), formats=DECODERS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ApiError(
                    413, f"The image has more than {MAX_PIXELS} pixels.", code="too_large"
                )
            content_type = CONTENT_TYPES[str(image.format)]
            image.verify()
            # verify() leaves the image unusable and does not decode JPEG or WebP data:
            # decoding it all is what catches a truncated file.
            with Image.open(io.BytesIO(data), formats=DECODERS) as image:
                image.load()
    except Image.DecompressionBombError:
        raise ApiError(413, "The image has too many pixels.", code="too_large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, KeyError, EOFError):
        raise unsupported from None
    return content_type


async def _bot_exists(state: StateDep, workspace_id: UUID, bot_id: UUID) -> None:
    if not await bots_repo.bot_exists(state.pool, workspace_id, bot_id):
        raise ApiError(404, "No such bot.")


@router.post(
    "/bots/{bot_id}/images",
    operation_id="upload_bot_image",
    status_code=201,
    response_model=BotImagePublic,
    responses=UPLOAD_ERRORS,
)
async def upload_bot_image(
    bot_id: UUID,
    principal: AdminDep,
    state: StateDep,
    file: Annotated[UploadFile, File(description="A JPEG, PNG or WebP image.")],
    keywords: Annotated[
        str, Form(max_length=2000, description="Comma-separated, e.g. 'menu, prices'.")
    ] = "",
) -> BotImagePublic:
    """Add an image the bot may send. The same bytes twice to one bot is a 409 whose
    details name the image already there."""
    await _bot_exists(state, principal.workspace_id, bot_id)
    words = normalized_keywords([k for k in keywords.split(",") if k.strip()])
    limit = state.settings.max_image_bytes
    # The declared length is not trusted: what counts is what arrives.
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"Images may have at most {limit} bytes.", code="too_large")
    content_type = await asyncio.to_thread(image_type, data)
    sha256 = hashlib.sha256(data).hexdigest()
    async with state.transaction() as tx:
        # Locking the bot makes the duplicate and count checks hold until we commit.
        if await bots_repo.lock_bot(tx.conn, principal.workspace_id, bot_id) is None:
            raise ApiError(404, "No such bot.")
        existing = await repo.image_with_hash(tx.conn, principal.workspace_id, bot_id, sha256)
        if existing is not None:
            raise ApiError(
                409,
                "This bot already has this image.",
                code="duplicate_image",
                details={"image_id": str(existing)},
            )
        if await repo.count_images(tx.conn, principal.workspace_id, bot_id) >= MAX_IMAGES_PER_BOT:
            raise ApiError(409, f"A bot may have at most {MAX_IMAGES_PER_BOT} images.")
        row = await repo.add_image(
            tx.conn,
            principal.workspace_id,
            bot_id,
            sha256=sha256,
            content_type=content_type,
            data=data,
            original_name=safe_name(file.filename, content_type),
            keywords=words,
        )
        await audit.record(
            tx.conn,
            principal,
            "bot.image_uploaded",
            "bot_image",
            row["id"],
            {"bot_id": str(bot_id), "sha256": sha256, "keywords": words},
        )
    return BotImagePublic.from_row(row)


@router.get(
    "/bots/{bot_id}/images", operation_id="list_bot_images", response_model=list[BotImagePublic]
)
async def list_bot_images(
    bot_id: UUID, principal: ReaderDep, state: StateDep
) -> list[BotImagePublic]:
    await _bot_exists(state, principal.workspace_id, bot_id)
    rows = await repo.list_images(state.pool, principal.workspace_id, bot_id)
    return [BotImagePublic.from_row(row) for row in rows]


@router.put(
    "/bots/{bot_id}/images/{image_id}/keywords",
    operation_id="set_image_keywords",
    response_model=BotImagePublic,
)
async def set_image_keywords(
    bot_id: UUID, image_id: UUID, body: KeywordsUpdate, principal: AdminDep, state: StateDep
) -> BotImagePublic:
    """Replace the image's keywords."""
    words = normalized_keywords(body.keywords)
    async with state.transaction() as tx:
        row = await repo.set_keywords(tx.conn, principal.workspace_id, bot_id, image_id, words)
        if row is None:
            raise ApiError(404, "No such image.")
        await audit.record(
            tx.conn,
            principal,
            "bot.image_keywords_set",
            "bot_image",
            image_id,
            {"bot_id": str(bot_id), "keywords": words},
        )
    return BotImagePublic.from_row(row)


@router.delete("/bots/{bot_id}/images/{image_id}", operation_id="delete_bot_image", status_code=204)
async def delete_bot_image(
    bot_id: UUID, image_id: UUID, principal: AdminDep, state: StateDep
) -> Response:
    """Remove the image; its bytes go too unless another bot of the workspace has them."""
    async with state.transaction() as tx:
        # Bot first, then the bytes: the order uploads lock in, so neither waits on the other.
        if await bots_repo.lock_bot(tx.conn, principal.workspace_id, bot_id) is None:
            raise ApiError(404, "No such image.")
        row = await repo.delete_image(tx.conn, principal.workspace_id, bot_id, image_id)
        if row is None:
            raise ApiError(404, "No such image.")
        await audit.record(
            tx.conn,
            principal,
            "bot.image_deleted",
            "bot_image",
            image_id,
            {"bot_id": str(bot_id), "sha256": row["sha256"]},
        )
    return Response(status_code=204)


@router.get(
    "/bots/{bot_id}/images/{image_id}/content",
    operation_id="get_bot_image_content",
    response_class=Response,
    responses={
        200: {
            "content": {t: {} for t in sorted(set(CONTENT_TYPES.values()))},
            "description": "The image's bytes.",
        }
    },
)
async def get_bot_image_content(
    bot_id: UUID, image_id: UUID, principal: ReaderDep, state: StateDep
) -> Response:
    found = await repo.image_content(state.pool, principal.workspace_id, bot_id, image_id)
    if found is None:
        raise ApiError(404, "No such image.")
    sha256, content_type, data = found
    # An image id always names the same bytes, so browsers may keep them for good.
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": IMMUTABLE, "ETag": f'"{sha256}"'},
    )
