"""The workers' asyncio Redis connection: redis-py's, with commands packed by hiredis.

redis-py's synchronous connection packs commands with hiredis when it is installed; its asyncio
connection always packs in pure Python, which was the largest single cost of a no-op job in a profile of
a worker (py-spy: about 15% of its time in `pack_command`). Same protocol bytes, from hiredis's C packer.
`rediss://` and `unix://` URLs keep redis-py's own connection classes.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
import redis.exceptions
from redis.connection import HiredisRespSerializer


class HiredisPackedConnection(redis.asyncio.Connection):  # type: ignore[misc]  # redis is untyped here
    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        try:
            packed: list[bytes] = self._packer.pack(*args)
        except (UnicodeEncodeError, redis.exceptions.DataError):
            # Text hiredis cannot encode strictly (lone surrogates kept from a job that was not UTF-8):
            # redis-py's packer applies the connection's `encoding_errors`.
            return super().pack_command(*args)  # type: ignore[no-any-return]
        return packed


def async_client(url: str, **kwargs: Any) -> redis.asyncio.Redis:
    if url.startswith("redis://"):
        kwargs.setdefault("connection_class", HiredisPackedConnection)
    return redis.asyncio.Redis.from_url(url, **kwargs)
