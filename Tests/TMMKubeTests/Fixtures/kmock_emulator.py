"""Runs kmock's KubernetesEmulator (PyPI `kmock`) over TLS on 127.0.0.1 for the Swift client tests.

Usage: python3 kmock_emulator.py CERT KEY   -> prints "PORT <n>", serves until stdin closes.
kmock serves plain HTTP only; this passes an SSL context to aiohttp's test server underneath it.
"""
import asyncio
import ssl
import sys

import aiohttp.test_utils
import kmock


class TLSServer(aiohttp.test_utils.RawTestServer):
    context: ssl.SSLContext | None = None

    async def start_server(self, loop=None, **kwargs):
        kwargs["ssl"] = TLSServer.context
        await super().start_server(loop=loop, **kwargs)


async def main() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[1], sys.argv[2])
    TLSServer.context = context
    emulator = kmock.KubernetesEmulator()
    async with emulator, kmock.Server(emulator, server_cls=TLSServer) as server:
        print(f"PORT {server.port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
