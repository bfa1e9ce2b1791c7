"""The project's cache backend: Django's RedisCache with one Redis client, and so one connection
pool, per process.

Django's `caches` gives each thread, and under ASGI each request's context, a backend object of
its own, and the stock RedisCache makes its client (with its connection pool) per backend object.
Under the production server (uvicorn workers) every request therefore opened a new Redis
connection: a connect, redis-py's handshake and its version lookup, which reads the package's
metadata from disk (measured on the creator's Session History: 51 connections for 50 requests
with uvicorn, 1 with WSGI workers; about 4.6 ms more CPU per request under load). Here the client
is shared by every backend object of the process with the same servers and options; redis-py's
pool is thread-safe and, after a fork, starts afresh in the child."""

import threading

from django.core.cache.backends import redis
from django.utils.functional import cached_property

_clients: dict[tuple, redis.RedisCacheClient] = {}
_lock = threading.Lock()


class SharedClient(redis.RedisCacheClient):
    """Django's client, with its connection pools made under a lock: threads share it now. It also
    keeps one redis-py client per pool: Django's makes a new one for every get and set, and each
    builds redis-py's table of about 170 response callbacks (a redis-py client is thread-safe;
    only its pipelines and pub/sub are not, and the cache uses neither across threads)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pool_lock = threading.Lock()
        self._redis_clients: dict[int, object] = {}

    def _get_connection_pool(self, write):
        with self._pool_lock:
            return super()._get_connection_pool(write)

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._redis_clients.get(id(pool))
        if client is None:
            client = self._redis_clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClient

    @cached_property
    def _cache(self) -> redis.RedisCacheClient:
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client
