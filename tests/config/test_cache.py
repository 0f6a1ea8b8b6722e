"""config.cache: Django's Redis cache, keeping one Redis client per connection pool."""

from django.core.cache import cache


def test_it_stores_reads_counts_and_forgets_as_djangos_does() -> None:
    cache.set("config-cache:value", {"answer": 42}, 30)
    assert cache.get("config-cache:value") == {"answer": 42}
    cache.set("config-cache:count", 1, 30)
    assert cache.incr("config-cache:count") == 2
    assert cache.get_many(["config-cache:value", "config-cache:count"]) == {
        "config-cache:value": {"answer": 42},
        "config-cache:count": 2,
    }
    cache.delete_many(["config-cache:value", "config-cache:count"])
    assert cache.get("config-cache:value") is None


def test_its_operations_share_one_client() -> None:
    backend = cache._cache
    client = backend.get_client()
    cache.set("config-cache:shared", 1, 30)
    assert backend.get_client("config-cache:shared", write=True) is client
