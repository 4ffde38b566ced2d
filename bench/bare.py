"""The baseline: a bare aiohttp handler answering fixed bytes (python -m bench.bare PORT FILE)."""

import sys

from aiohttp import web


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "rb") as handle:
        payload = handle.read()

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=payload, content_type="text/xml", charset="UTF-8")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
