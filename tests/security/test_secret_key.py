"""The secret key that signs sessions and derives every other secret: readable by its owner only, from the first byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.settings import Settings


def test_the_generated_secret_key_file_is_owner_only_and_kept(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a usual umask would leave a plainly created file readable by everyone
    try:
        config = Settings(var_dir=tmp_path)
        key = config.session_secret()
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "secret_key").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert len(key) >= 32 and Settings(var_dir=tmp_path).session_secret() == key  # every process reads the same key


def test_a_configured_secret_key_writes_no_file(tmp_path: Path) -> None:
    assert Settings(var_dir=tmp_path, secret_key="k" * 40).session_secret() == "k" * 40
    assert not (tmp_path / "secret_key").exists()
