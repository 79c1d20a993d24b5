from typing import Any

from aiohttp.test_utils import TestClient

from tests.support import flush, hit, put_item


async def test_a_view_reaches_the_top_list(client: TestClient[Any, Any]) -> None:
    await put_item(client, "a1", section="tech")
    assert await hit(client, "a1") == 204
    await flush(client)
    doc = await (await client.get("/v1/sites/news/top?n=4&window=all")).json()
    assert [(it["id"], it["views"]) for it in doc["items"]] == [("a1", 1)]
