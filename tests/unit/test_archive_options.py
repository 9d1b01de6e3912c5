"""The ``[archive]`` options: TOML and flags, the files they name, and what fails at
startup (docs/archive.md). The archive itself runs against a real S3 server in
``tests/archive/``."""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

import pytest
from daemon_launcher import refused_start

from memd import Engine, InvalidArgument
from memd.archive import ArchiveOptions, configure
from memd.archive.setup import resolve
from memd.config import ConfigError, load_config


def _load(tmp_path: Path, text: str, **env: str) -> ArchiveOptions:
    path = tmp_path / "memd.toml"
    path.write_text(text)
    return load_config(argparse.Namespace(config=str(path)), environ=env).archive


def _options(tmp_path: Path, **changes: object) -> ArchiveOptions:
    (tmp_path / "secret").write_text("s3-secret\nignored\n")
    (tmp_path / "key").write_text(secrets.token_hex(32))
    base: dict[str, object] = {
        "endpoint": "http://127.0.0.1:9",
        "bucket": "memd-archive",
        "secret_key_file": str(tmp_path / "secret"),
        "key_file": str(tmp_path / "key"),
    }
    return ArchiveOptions(**{**base, **changes})  # type: ignore[arg-type]


def test_local_only_is_the_default(tmp_path: Path) -> None:
    opts = _load(tmp_path, "")
    assert opts == ArchiveOptions() and not opts.enabled
    with Engine(tmp_path / "d") as engine:
        assert configure(engine, opts) is False
        assert engine.archive_pass().offloaded == 0


def test_toml_and_environment_set_the_options(tmp_path: Path) -> None:
    opts = _load(
        tmp_path,
        '[archive]\nendpoint = "https://s3.example:9000/"\nbucket = "b-1"\n'
        'old_key_files = ["a.key", "b.key"]\nobject_bytes = "1MiB"\n',
        MEMD_ARCHIVE_OFFLOAD_AFTER_MS="3600000",
    )
    assert opts.endpoint == "https://s3.example:9000"
    assert (opts.bucket, opts.old_key_files) == ("b-1", ("a.key", "b.key"))
    assert (opts.object_bytes, opts.offload_after_ms) == (1 << 20, 3_600_000)


@pytest.mark.parametrize("endpoint", ["ftp://x", "http://x/path", "s3.example"])
def test_an_endpoint_with_a_path_or_another_scheme_is_refused(
    tmp_path: Path, endpoint: str
) -> None:
    with pytest.raises(ConfigError, match=r"archive\.endpoint"):
        _load(tmp_path, f'[archive]\nendpoint = "{endpoint}"\n')


def test_files_are_read_and_missing_ones_name_their_option(tmp_path: Path) -> None:
    setup = resolve(_options(tmp_path))
    assert setup.secret_key == "s3-secret" and len(setup.key) == 64
    for changes, option in [
        ({"bucket": ""}, "archive.bucket"),
        ({"key_file": ""}, "archive.key_file"),
        ({"secret_key_file": str(tmp_path / "nope")}, "archive.secret_key_file"),
        ({"old_key_files": (str(tmp_path / "gone"),)}, "archive.old_key_files"),
    ]:
        with pytest.raises(ConfigError, match=option):
            resolve(_options(tmp_path, **changes))


def test_a_bad_key_or_prefix_is_refused_by_the_core(tmp_path: Path) -> None:
    with Engine(tmp_path / "d") as engine:
        (tmp_path / "short").write_text("abcd")
        with pytest.raises(InvalidArgument, match="64 hex digits"):
            configure(engine, _options(tmp_path, key_file=str(tmp_path / "short")))
        with pytest.raises(InvalidArgument, match=r"archive\.prefix"):
            configure(engine, _options(tmp_path, prefix="/abs"))
        assert configure(engine, _options(tmp_path)) is True


def test_a_daemon_without_its_key_file_does_not_start(tmp_path: Path) -> None:
    stderr = refused_start(
        tmp_path / "d", "--archive-endpoint", "http://127.0.0.1:9", "--archive-bucket", "memd-a"
    )
    assert "archive.secret_key_file is required" in stderr
