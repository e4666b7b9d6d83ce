"""A TCP proxy that shapes a link: one-way delay, bandwidth each way; it counts bytes
and round trips.

Put it between the client and PostgreSQL to see what a clinic's Wi-Fi, VPN or
slow uplink does to a screen: every client->server burst followed by a
server->client burst is one round trip, and each costs 2 x delay.

    python -m benchmarks.latency_proxy --listen 127.0.0.1:6543 \
        --target 127.0.0.1:5432 --delay-ms 50 --kbit-s 3000

Bandwidth is a token bucket per direction, shared by every connection through the
proxy (the workstation's connections share its VPN): each byte takes ``8 / rate``
seconds to go through, and at most ``burst_bytes`` may go at once after the link was
idle (0, the default: every byte waits its turn, as on a serial link). A chunk then
arrives ``delay`` after its last byte went through. Data is shaped in segments of
:data:`SEGMENT` bytes, so a large answer arrives progressively, not in one lump.

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
from typing import Generic, Protocol, TypeVar


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


#: Bytes shaped at a time: a large answer arrives in steps of this size.
SEGMENT = 16384


class TokenBucket:
    """Bandwidth as a token bucket that may go into debt: ``take(n, now)`` says when
    the n bytes offered at ``now`` have gone through, after everything offered before."""

    def __init__(self, bytes_per_s: float, burst_bytes: float = 0.0) -> None:
        if bytes_per_s <= 0:
            raise ValueError("a link's rate must be positive")
        if burst_bytes < 0:
            raise ValueError("a burst cannot be negative")
        self.rate = float(bytes_per_s)
        self.burst = float(burst_bytes)
        self._tokens = self.burst
        self._stamp: float | None = None

    def take(self, n: int, now: float) -> float:
        if self._stamp is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= n
        return now if self._tokens >= 0 else now - self._tokens / self.rate


@dataclass(frozen=True)
class Link:
    """A network between a workstation and the server, as the proxy shapes it."""

    name: str
    delay_ms: float = 0.0
    up_kbit_s: float | None = None  # None: as fast as loopback
    down_kbit_s: float | None = None
    burst_bytes: int = 0

    @classmethod
    def vpn(cls, mbit_s: float, delay_ms: float) -> Link:
        """A VPN of ``mbit_s`` each way with ``delay_ms`` one way."""
        return cls(f"{mbit_s:g} Mbit/s + {delay_ms:g} ms", delay_ms, mbit_s * 1000, mbit_s * 1000)


def _bucket(kbit_s: float | None, burst: int) -> TokenBucket | None:
    return None if kbit_s is None else TokenBucket(kbit_s * 1000 / 8, burst)


def is_loopback(host: str) -> bool:
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
        up_kbit_s: float | None = None,
        down_kbit_s: float | None = None,
        burst_bytes: int = 0,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        if not (is_loopback(target_host) and is_loopback(listen_host)):
            raise ValueError("the latency proxy only connects loopback addresses")
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.delay = delay_ms / 1000.0
        self._buckets = {
            "up": _bucket(up_kbit_s, burst_bytes),
            "down": _bucket(down_kbit_s, burst_bytes),
        }
        self.counters = Counters()
        self._server: asyncio.Server | None = None
        self._next_id = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def shaped(cls, target_host: str, target_port: int, link: Link) -> LatencyProxy:
        return cls(
            target_host,
            target_port,
            delay_ms=link.delay_ms,
            up_kbit_s=link.up_kbit_s,
            down_kbit_s=link.down_kbit_s,
            burst_bytes=link.burst_bytes,
        )

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
        # Each segment is delivered `delay` after its last byte went through the
        # direction's token bucket (at once without a rate), in order.
        bucket = self._buckets[direction]
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
                for at in range(0, len(data), SEGMENT):
                    segment = data[at : at + SEGMENT]
                    now = loop.time()
                    sent = now if bucket is None else bucket.take(len(segment), now)
                    queue.put_nowait((sent + self.delay, segment))
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await sender
            dst.close()


class _Served(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


S = TypeVar("S", bound=_Served)


class ProxyThread(Generic[S]):
    """Runs a LatencyProxy (or another asyncio server with ``start``/``stop``) on its
    own event loop thread (for benchmarks and tests)."""

    def __init__(self, proxy: S) -> None:
        self.proxy = proxy
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> S:
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
    parser.add_argument("--kbit-s", type=float, default=None, help="bandwidth each way")
    args = parser.parse_args()
    lhost, lport = args.listen.rsplit(":", 1)
    thost, tport = args.target.rsplit(":", 1)
    proxy = LatencyProxy(
        thost,
        int(tport),
        delay_ms=args.delay_ms,
        up_kbit_s=args.kbit_s,
        down_kbit_s=args.kbit_s,
        listen_host=lhost,
        listen_port=int(lport),
    )

    async def run() -> None:
        await proxy.start()
        rate = f", {args.kbit_s:g} kbit/s each way" if args.kbit_s else ""
        print(f"proxy {args.listen} -> {args.target}, {args.delay_ms} ms each way{rate}")
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
