"""The README stays true: two commands, and the configuration table of the code."""

from __future__ import annotations

import re
from pathlib import Path

from relay_cli.config_table import markdown

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_quick_start_first_code_block_holds_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```\w*\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["./relay up", "./relay test"]


def test_configuration_table_matches_the_settings() -> None:
    table = README.split("<!-- config:start -->\n", 1)[1].split("\n<!-- config:end -->", 1)[0]
    assert table == markdown(), "paste the output of `./relay config` into the README"
