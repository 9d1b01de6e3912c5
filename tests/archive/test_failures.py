"""The archive when things go wrong: an object lost or corrupted (DATA_LOSS for its
memories only), the store down (UNAVAILABLE for offloaded reads only, everything
else works, and it recovers), and deletion, expiry and overwrites removing objects."""

from __future__ import annotations

import time

import pytest
from memd_client import NO_RETRY, Client, DataLoss, Tier, Unavailable

from .conftest import StartArchived, wait_offloaded, wait_until
from .s3server import S3Server
from .test_offload import store_archived, values


@pytest.mark.parametrize("damage", ["lost", "corrupted", "truncated"])
def test_a_damaged_object_fails_its_memories_only(
    start_archived: StartArchived, s3: S3Server, ns: str, damage: str
) -> None:
    daemon = start_archived()
    vals = values(6)
    with Client(daemon.address) as c:
        keys = store_archived(c, ns, vals)
        c.store(ns, [{"key": "local", "text": "not archived", "value": b"here"}])
        wait_offloaded(daemon, 6)
        (obj,) = s3.objects()  # nothing read yet, so nothing cached
        if damage == "lost":
            obj.unlink()
        elif damage == "corrupted":
            data = bytearray(obj.read_bytes())
            data[len(data) // 2] ^= 0x40
            obj.write_bytes(bytes(data))
        else:
            obj.write_bytes(obj.read_bytes()[:-7])
        with pytest.raises(DataLoss) as err:
            c.get(ns, [keys[3]])
        assert f"{ns}/{keys[3]}" in str(err.value)
        assert ("missing" if damage == "lost" else "authentication failed") in str(err.value)
        local = c.get(ns, ["local"])["local"]
        assert local is not None and local.value == b"here"
        assert [h.memory.key for h in c.search(ns, "not archived", limit=1)] == ["local"]
        assert c.delete(ns, keys) == 6  # a damaged memory can still be deleted
    assert "Traceback" not in daemon.log()


def test_store_down_fails_offloaded_reads_only_and_recovers(
    start_archived: StartArchived, s3: S3Server, ns: str
) -> None:
    daemon = start_archived()
    vals = values(5)
    with Client(daemon.address, retry=NO_RETRY) as c:
        keys = store_archived(c, ns, vals)
        wait_offloaded(daemon, 5)
        s3.stop()
        with pytest.raises(Unavailable) as err:
            c.get(ns, [keys[0]])
        assert keys[0] in str(err.value)
        with pytest.raises(Unavailable):
            list(c.search(ns, "archived fact 1", limit=1))
        # Everything that needs no archived value keeps working.
        new = {"key": "new", "text": "stored while the store is down", "tier": Tier.WORKING}
        c.store(ns, [new])
        assert c.get(ns, ["new"])["new"] is not None
        assert [h.memory.key for h in c.search(ns, "stored while", limit=1)] == ["new"]
        assert c.stats(ns).namespaces[ns].count == 6
        assert [m.key for m in c.list(ns, tier=Tier.WORKING)] == ["new"]
        s3.start()
        got = c.get(ns, keys, peek=True)
        assert [got[k].value for k in keys] == vals  # type: ignore[union-attr]


def test_deleted_expired_and_overwritten_memories_free_their_objects(
    start_archived: StartArchived, s3: S3Server, ns: str
) -> None:
    daemon = start_archived()
    with Client(daemon.address) as c:
        deleted = store_archived(c, f"{ns}-del", values(4))
        wait_offloaded(daemon, 4)
        expiring = store_archived(c, f"{ns}-ttl", values(3), ttl_ms=1500)
        wait_offloaded(daemon, 7)
        overwritten = store_archived(c, f"{ns}-put", values(2))
        wait_offloaded(daemon, 9)
        kept = store_archived(c, f"{ns}-keep", values(2))
        wait_offloaded(daemon, 11)
        assert len(s3.objects()) == 4
        assert c.delete(f"{ns}-del", deleted) == 4
        c.store(
            f"{ns}-put",
            [{"key": k, "value": b"now local", "tier": Tier.ARCHIVE} for k in overwritten],
        )
        time.sleep(1.6)  # the TTL passes; the sweeper removes them
        wait_until(lambda: len(s3.objects()) <= 2, "objects of gone memories to be deleted")
        # The overwritten values are small new ones, offloaded again into a new object.
        got = c.get(f"{ns}-keep", kept, peek=True)
        assert all(m is not None for m in got.values())
        assert c.get(f"{ns}-ttl", expiring, peek=True) == dict.fromkeys(expiring)
        got = c.get(f"{ns}-put", overwritten, peek=True)
        assert {m.value for m in got.values() if m} == {b"now local"}


def test_the_store_checks_signatures_and_a_wrong_secret_offloads_nothing(
    start_archived: StartArchived, s3: S3Server, ns: str
) -> None:
    daemon = start_archived(secret_key="not-the-secret")
    with Client(daemon.address) as c:
        vals = values(3)
        keys = store_archived(c, ns, vals)
        wait_until(lambda: "job failed" in daemon.log(), "a failed archive pass")
        assert "HTTP 403" in daemon.log()
        got = c.get(ns, keys, peek=True)
        assert [got[k].value for k in keys] == vals  # type: ignore[union-attr]
    assert s3.objects() == []
