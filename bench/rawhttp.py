"""A minimal HTTP/1.1 client over asyncio streams, for load generators that share the machine
with the server they measure.

A general client (httpx) spends 1-3 ms of CPU per request building and parsing it; on a
2-core machine that starves the server and the benchmark measures its own load generator.
This one sends pre-built request bytes on a kept-alive connection and parses only the status
line, Content-Length or chunked framing: tens of microseconds per request.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any


def build_request(
    method: str,
    path: str,
    *,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def multipart(field: str, filename: str, data: bytes, mime: str) -> tuple[bytes, str]:
    """One file field as multipart/form-data: (body, content type)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The chunks of a chunked body, as they arrive; ends after the last (empty) chunk."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


class Connection:
    """One kept-alive connection; requests on it go one after another."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def request(self, raw: bytes) -> Response:
        """Send `raw` (build_request) and read the whole response; a connection the server
        closed meanwhile (keep-alive timeout) is reopened once."""
        for attempt in (1, 2):
            reader, writer = await self._open()
            try:
                writer.write(raw)
                await writer.drain()
                status, headers = await _head(reader)
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        if headers.get("transfer-encoding") == "chunked":
            body = b"".join([chunk async for chunk in _chunks(reader)])
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            self.close()
        return Response(status, headers, body)

    async def stream(self, raw: bytes) -> tuple[int, AsyncIterator[bytes]]:
        """Send `raw` and return the status and the body's chunks as they arrive (for
        server-sent events); the connection is used for nothing else afterwards."""
        reader, writer = await self._open()
        writer.write(raw)
        await writer.drain()
        status, headers = await _head(reader)
        if headers.get("transfer-encoding") == "chunked":
            return status, _chunks(reader)

        async def rest() -> AsyncIterator[bytes]:
            while data := await reader.read(65536):
                yield data

        return status, rest()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
