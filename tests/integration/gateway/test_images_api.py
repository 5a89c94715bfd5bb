"""Images a bot may send, through the API: only real JPEG, PNG and WebP images within the
size limit, stored once per content, with keywords the AI worker matches; vendors may look
but not change; other workspaces see nothing."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from PIL import Image

from relay_common.provisioning import add_member, create_bot, create_workspace

MAX_IMAGE_BYTES = 4096


def unique_email(who: str) -> str:
    return f"{who}-{uuid4().hex[:6]}@example.com"


def image_bytes(fmt: str, color: tuple[int, int, int] = (200, 30, 30), size: int = 16) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, fmt)
    return out.getvalue()


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: larger than MAX_IMAGE_BYTES for side >= 64."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


async def upload(
    client: httpx.AsyncClient,
    bot_id: UUID,
    data: bytes,
    name: str = "photo.png",
    content_type: str = "image/png",
    keywords: str | None = None,
) -> httpx.Response:
    form = {"keywords": keywords} if keywords is not None else None
    return await client.post(
        f"/api/v1/bots/{bot_id}/images", files={"file": (name, data, content_type)}, data=form
    )


async def blob_count(pool: asyncpg.Pool, workspace_id: UUID, sha256: str) -> int:
    found: int = await pool.fetchval(
        "SELECT count(*) FROM media_blobs WHERE workspace_id = $1 AND sha256 = $2",
        workspace_id,
        sha256,
    )
    return found


async def new_workspace(pool: asyncpg.Pool) -> tuple[UUID, str, str]:
    """A workspace, its owner's email and a vendor's email."""
    owner_email, vendor_email = unique_email("owner"), unique_email("vendor")
    async with pool.acquire() as conn:
        ws = await create_workspace(conn, f"Images {uuid4().hex[:6]}", owner_email)
        await add_member(conn, ws.workspace_id, vendor_email)
    return ws.workspace_id, owner_email, vendor_email


@pytest.mark.timeout(120)
async def test_upload_real_images_refuse_others_dedupe_keywords_and_delete(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    workspace_id, owner_email, vendor_email = await new_workspace(pool)
    async with pool.acquire() as conn:
        bot = await create_bot(conn, workspace_id, "Shop")
        twin = await create_bot(conn, workspace_id, "Second shop")
    gateway = await start_gateway(GATEWAY_MAX_IMAGE_BYTES=str(MAX_IMAGE_BYTES))
    owner = await gateway.client(owner_email)
    vendor = await gateway.client(vendor_email)

    png = image_bytes("PNG")
    uploaded = await upload(owner, bot, png, "../menus/Menu.png", keywords=" Menú , PRICES,menú,")
    assert uploaded.status_code == 201, uploaded.text
    image = uploaded.json()
    png_sha = hashlib.sha256(png).hexdigest()
    assert image["sha256"] == png_sha
    assert image["content_type"] == "image/png"
    assert image["size_bytes"] == len(png)
    assert image["original_name"] == "Menu.png"
    assert image["keywords"] == ["menú", "prices"]
    assert await blob_count(pool, workspace_id, png_sha) == 1

    jpeg = image_bytes("JPEG", (10, 200, 10))
    as_jpeg = await upload(owner, bot, jpeg, "photo.jpg", "image/jpeg")
    assert as_jpeg.status_code == 201, as_jpeg.text
    assert as_jpeg.json()["content_type"] == "image/jpeg"
    assert as_jpeg.json()["keywords"] == []
    # Judged by its bytes, not by its name or declared type.
    webp = image_bytes("WEBP", (10, 10, 200))
    as_webp = await upload(owner, bot, webp, "disguised.png", "image/png", keywords="shoes")
    assert as_webp.status_code == 201, as_webp.text
    assert as_webp.json()["content_type"] == "image/webp"

    refused = [
        (b"just some text, honestly", "x.png", "image/png"),
        (png[: len(png) // 2], "cut.png", "image/png"),
        (image_bytes("JPEG", (1, 2, 3), size=64)[:-200], "cut.jpg", "image/jpeg"),
        (image_bytes("GIF"), "anim.gif", "image/gif"),
        (image_bytes("BMP"), "old.bmp", "image/bmp"),
        (b"", "empty.png", "image/png"),
    ]
    for data, name, content_type in refused:
        response = await upload(owner, bot, data, name, content_type)
        assert response.status_code == 415, (name, response.text)
        assert response.json()["code"] == "unsupported_media_type"
    too_big = noise_png(64)
    assert len(too_big) > MAX_IMAGE_BYTES
    response = await upload(owner, bot, too_big, "big.png")
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "too_large"
    assert await blob_count(pool, workspace_id, hashlib.sha256(too_big).hexdigest()) == 0
    for keywords in (",".join(f"k{i}" for i in range(21)), "x" * 51):
        response = await upload(owner, bot, image_bytes("PNG", (9, 9, 9)), keywords=keywords)
        assert response.status_code == 422, keywords
    assert (
        await owner.post(f"/api/v1/bots/{bot}/images", data={"keywords": "a"})
    ).status_code == 422

    again = await upload(owner, bot, png, "again.png")
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_image"
    assert again.json()["details"] == {"image_id": image["id"]}
    shared = await upload(owner, twin, png, "same-bytes.png")
    assert shared.status_code == 201, shared.text
    assert await blob_count(pool, workspace_id, png_sha) == 1

    listed = (await vendor.get(f"/api/v1/bots/{bot}/images")).json()
    assert [i["id"] for i in listed] == [image["id"], as_jpeg.json()["id"], as_webp.json()["id"]]
    content = await vendor.get(image["content_url"])
    assert content.status_code == 200
    assert content.content == png
    assert content.headers["content-type"] == "image/png"
    assert content.headers["cache-control"] == "private, max-age=31536000, immutable"
    webp_content = await owner.get(as_webp.json()["content_url"])
    assert webp_content.headers["content-type"] == "image/webp"
    assert webp_content.content == webp

    keywords_url = f"/api/v1/bots/{bot}/images/{image['id']}/keywords"
    set_words = await owner.put(
        keywords_url, json={"keywords": ["Carta  del Día", "carta del día"]}
    )
    assert set_words.status_code == 200, set_words.text
    assert set_words.json()["keywords"] == ["carta del día"]
    stored = await pool.fetchval("SELECT keywords FROM bot_images WHERE id = $1", UUID(image["id"]))
    assert stored == ["carta del día"]
    for bad in ({"keywords": ["k"] * 21}, {"keywords": ["x" * 51]}, {"keywords": [" "]}, {}):
        assert (await owner.put(keywords_url, json=bad)).status_code == 422, bad
    missing = f"/api/v1/bots/{bot}/images/{uuid4()}/keywords"
    assert (await owner.put(missing, json={"keywords": []})).status_code == 404

    for response in (
        await upload(vendor, bot, image_bytes("PNG", (1, 1, 1))),
        await vendor.put(keywords_url, json={"keywords": []}),
        await vendor.delete(f"/api/v1/bots/{bot}/images/{image['id']}"),
    ):
        assert response.status_code == 403, response.text

    # The twin bot still uses the PNG's bytes: they stay until its image goes too.
    assert (await owner.delete(f"/api/v1/bots/{bot}/images/{image['id']}")).status_code == 204
    assert await blob_count(pool, workspace_id, png_sha) == 1
    assert (await owner.get(image["content_url"])).status_code == 404
    assert (await owner.delete(f"/api/v1/bots/{bot}/images/{image['id']}")).status_code == 404
    twin_image = shared.json()
    assert (await owner.delete(f"/api/v1/bots/{twin}/images/{twin_image['id']}")).status_code == 204
    assert await blob_count(pool, workspace_id, png_sha) == 0

    # Deleting the bot takes the bytes of its images along.
    assert (await owner.delete(f"/api/v1/bots/{bot}")).status_code == 204
    for data in (jpeg, webp):
        assert await blob_count(pool, workspace_id, hashlib.sha256(data).hexdigest()) == 0
    actions = await pool.fetch(
        "SELECT action FROM audit_log WHERE workspace_id = $1 ORDER BY id", workspace_id
    )
    assert [r["action"] for r in actions] == [
        "bot.image_uploaded",
        "bot.image_uploaded",
        "bot.image_uploaded",
        "bot.image_uploaded",
        "bot.image_keywords_set",
        "bot.image_deleted",
        "bot.image_deleted",
        "bot.deleted",
    ]


@pytest.mark.timeout(120)
async def test_images_of_another_workspace_stay_out_of_reach(
    pool: asyncpg.Pool, start_gateway: Any
) -> None:
    workspace_id, owner_email, _ = await new_workspace(pool)
    other_id, other_email, _ = await new_workspace(pool)
    async with pool.acquire() as conn:
        mine = await create_bot(conn, workspace_id, "Mine")
        theirs = await create_bot(conn, other_id, "Theirs")
    gateway = await start_gateway()
    owner = await gateway.client(owner_email)
    other_owner = await gateway.client(other_email)
    png = image_bytes("PNG", (7, 7, 7))
    their_image = (await upload(other_owner, theirs, png, keywords="secret")).json()
    their_url = f"/api/v1/bots/{theirs}/images/{their_image['id']}"
    crossed_url = f"/api/v1/bots/{mine}/images/{their_image['id']}"

    for response in (
        await owner.get(f"/api/v1/bots/{theirs}/images"),
        await upload(owner, theirs, image_bytes("PNG", (8, 8, 8))),
        await owner.get(f"{their_url}/content"),
        await owner.get(f"{crossed_url}/content"),
        await owner.put(f"{their_url}/keywords", json={"keywords": ["mine"]}),
        await owner.put(f"{crossed_url}/keywords", json={"keywords": ["mine"]}),
        await owner.delete(their_url),
        await owner.delete(crossed_url),
    ):
        assert response.status_code == 404, response.text
        assert "secret" not in response.text
    assert (await owner.get(f"/api/v1/bots/{mine}/images")).json() == []

    # The same bytes in my workspace are my own copy: deleting mine leaves theirs.
    my_image = (await upload(owner, mine, png)).json()
    assert await blob_count(pool, workspace_id, my_image["sha256"]) == 1
    assert (await owner.delete(f"/api/v1/bots/{mine}/images/{my_image['id']}")).status_code == 204
    assert await blob_count(pool, other_id, their_image["sha256"]) == 1
    kept = await other_owner.get(f"{their_url}/content")
    assert kept.content == png
    assert (await other_owner.get(f"/api/v1/bots/{theirs}/images")).json()[0]["keywords"] == [
        "secret"
    ]
