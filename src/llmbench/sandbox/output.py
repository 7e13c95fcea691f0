"""Output of sandboxed processes, kept to its last bytes."""
from __future__ import annotations

import threading

OUTPUT_TAIL_BYTES = 64 * 1024


class TailBuffer:
    """Keeps the last `limit` bytes of a stream and counts the rest."""

    def __init__(self, limit: int = OUTPUT_TAIL_BYTES):
        self.limit = limit
        self.data = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        """Append a chunk, dropping the oldest bytes beyond the limit."""
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        """The kept bytes as text, prefixed by how many earlier bytes were dropped."""
        dropped = self.total - len(self.data)
        body = self.data.decode("utf-8", "replace")
        return f"[... {dropped} earlier bytes not kept ...]\n{body}" if dropped else body

    @property
    def dropped(self) -> int:
        """Bytes not kept."""
        return self.total - len(self.data)


def drain(stream, buffer: TailBuffer) -> threading.Thread:
    """Pump `stream` into `buffer` on a daemon thread (started); returns the thread."""

    def pump():
        try:
            while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
                buffer.feed(chunk)
        except (OSError, ValueError):
            pass

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    return t
