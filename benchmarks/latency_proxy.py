"""A TCP proxy that adds a fixed delay each way and counts bytes and round trips.

Put it between the client and PostgreSQL to see what a clinic's Wi-Fi, VPN or
slow uplink does to a screen: every client->server burst followed by a
server->client burst is one round trip, and each costs 2 x delay.

    python -m benchmarks.latency_proxy --listen 127.0.0.1:6543 \
        --target 127.0.0.1:5432 --delay-ms 50

Only loopback addresses are accepted: this is a measuring tool, not a relay.

``blackhole()`` makes it a silently dead link: connections stay open and whatever is
sent is taken, but nothing is delivered until ``resume()`` (then it all arrives, as
after a VPN outage that TCP rode out). The client's TCP peer is the proxy, which
stays alive, so TCP keepalives do not notice: only the client's own link check does
(``phms_client/db/linkwatch.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Counters:
    bytes_up: int = 0
    bytes_down: int = 0
    round_trips: int = 0
    connections: int = 0
    #: Round trips of each connection, by its number (1, 2, ... in the order accepted).
    by_connection: dict[int, int] = field(default_factory=dict)
    _last_direction: dict[int, str] = field(default_factory=dict)

    def reset(self) -> None:
        self.bytes_up = self.bytes_down = self.round_trips = self.connections = 0
        self.by_connection.clear()
        self._last_direction.clear()

    def seen(self, conn_id: int, direction: str, n: int) -> None:
        if direction == "up":
            self.bytes_up += n
        else:
            self.bytes_down += n
            if self._last_direction.get(conn_id) == "up":
                self.round_trips += 1
                self.by_connection[conn_id] = self.by_connection.get(conn_id, 0) + 1
        self._last_direction[conn_id] = direction


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class LatencyProxy:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        delay_ms: float = 0.0,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        if not (_loopback(target_host) and _loopback(listen_host)):
            raise ValueError("the latency proxy only connects loopback addresses")
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.delay = delay_ms / 1000.0
        self.counters = Counters()
        self._server: asyncio.AbstractServer | None = None
        self._next_id = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._handle, *self.listen)

    def blackhole(self) -> None:
        """Stop delivering anything, either way, without closing a connection (any thread)."""
        self._call(self._flowing.clear)

    def resume(self) -> None:
        """Deliver again, what was held first (any thread)."""
        self._call(self._flowing.set)

    def _call(self, fn: Callable[[], None]) -> None:
        if self._loop is None:
            fn()
        else:
            self._loop.call_soon_threadsafe(fn)

    async def stop(self) -> None:
        """Stop accepting; let open connections drain briefly, then cut them."""
        self._flowing.set()  # nothing held back may keep a connection open
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._handlers:
            _, pending = await asyncio.wait(self._handlers, timeout=2)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._next_id += 1
        conn_id = self._next_id
        self.counters.connections += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(
                self._pipe(conn_id, "up", reader, up_writer),
                self._pipe(conn_id, "down", up_reader, writer),
                return_exceptions=True,
            )
        except OSError:
            pass
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()
            self._handlers.discard(task)

    async def _pipe(
        self, conn_id: int, direction: str, src: asyncio.StreamReader, dst: asyncio.StreamWriter
    ) -> None:
        # Each chunk is delivered `delay` after it arrived, in order: a fixed
        # one-way latency, not a bandwidth limit.
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()

        sender = asyncio.create_task(deliver())
        try:
            while data := await src.read(65536):
                self.counters.seen(conn_id, direction, len(data))
                queue.put_nowait((loop.time() + self.delay, data))
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await sender
            dst.close()


class ProxyThread:
    """Runs a LatencyProxy on its own event loop thread (for benchmarks and tests)."""

    def __init__(self, proxy: LatencyProxy) -> None:
        self.proxy = proxy
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)
        return self.proxy

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:6543")
    parser.add_argument("--target", default="127.0.0.1:5432")
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args()
    lhost, lport = args.listen.rsplit(":", 1)
    thost, tport = args.target.rsplit(":", 1)
    proxy = LatencyProxy(
        thost, int(tport), delay_ms=args.delay_ms, listen_host=lhost, listen_port=int(lport)
    )

    async def run() -> None:
        await proxy.start()
        print(f"proxy {args.listen} -> {args.target}, {args.delay_ms} ms each way")
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
