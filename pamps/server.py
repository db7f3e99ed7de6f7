"""How `pamps serve` runs Uvicorn: its HTTP protocol, with limits on request heads.

Uvicorn's httptools protocol keeps a request's line and headers in memory
however large or many they are (a 32 MB header, 20,000 headers); this one
answers 431 and closes the connection once a head is over
``server.max_header_size`` bytes or ``server.max_headers`` fields, before the
app sees it.
"""

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pamps.config import settings

# Uvicorn's `http` option: an import string, so every worker process loads it.
PROTOCOL = "pamps.server:LimitedHttpToolsProtocol"

TOO_LARGE = b'{"detail":"Request header fields too large"}'


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop reading the request."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_size = int(settings.server.max_header_size)
        self.max_headers = int(settings.server.max_headers)
        self.head_size = 0  # bytes of the request line and headers parsed
        self.head_read = 0  # bytes read while the head is incomplete
        self.in_head = True
        self.refused = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_size = self.head_read = 0
        self.in_head = True

    def on_url(self, url: bytes) -> None:
        self.head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value) + 4
        self.check(len(self.headers) + 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.check(len(self.headers))
        self.in_head = False
        super().on_headers_complete()

    def check(self, fields: int) -> None:
        if fields > self.max_headers or self.head_size > self.max_head_size:
            # Stops the parser; Uvicorn then calls send_400_response.
            self.refused = True
            raise HeadTooLarge

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.in_head and not self.transport.is_closing():
            # A head still incomplete: httptools keeps what it has of it, so
            # count every byte read meanwhile (give or take the end of a
            # previous request in the same read).
            self.head_read += len(data)
            if self.head_read > self.max_head_size:
                self.refused = True
                self.send_431_response()

    def send_400_response(self, msg: str) -> None:
        if self.refused:
            self.send_431_response()
        else:
            super().send_400_response(msg)

    def send_431_response(self) -> None:
        head = [b"HTTP/1.1 431 Request Header Fields Too Large\r\n"]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(TOO_LARGE),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + TOO_LARGE)
        self.transport.close()
