"""The baseline: a bare aiohttp handler answering fixed bytes (python -m bench.bare PORT FILE [low-level])."""

import asyncio
import sys

from aiohttp import web


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "rb") as handle:
        payload = handle.read()

    async def answer(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=payload, content_type="text/xml", charset="UTF-8")

    if sys.argv[3:] == ["low-level"]:
        asyncio.run(low_level(answer, port))
        return
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


async def low_level(answer, port: int) -> None:
    runner = web.ServerRunner(web.Server(answer, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()  # until terminated


if __name__ == "__main__":
    main()
