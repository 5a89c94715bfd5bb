"""`relay contract export`: the bus contract as JSON Schema files plus an index page."""

from __future__ import annotations

import json
from pathlib import Path

from relay_common.contract import ALL_MESSAGES
from relay_common.contract import subjects as s
from relay_common.contract.envelope import Envelope

HEADER = """# NATS contract (generated)

Written by `relay contract export` from `relay_common.contract`; a test fails when this
folder and the code disagree. Prose, examples and the subscriber guide are in
[../nats-contract.md](../nats-contract.md).

Subjects read `<prefix>.<domain>.<name>.v<version>.<workspace_id>.<bot_id>`; the prefix is
`RELAY_BUS_PREFIX` (default `relay`). Streams are named `<PREFIX>_<NAME>`.
"""


def schema_for(model: type[Envelope]) -> dict[str, object]:
    schema = model.model_json_schema()
    schema["x-subject"] = model.subject.template()
    schema["x-stream"] = f"<PREFIX>_{model.subject.stream.name}"
    schema["x-version"] = model.subject.version
    return schema


def render(out: Path) -> dict[Path, str]:
    """Every file of the export, by path, without writing anything."""
    files: dict[Path, str] = {}
    lines = [
        HEADER,
        "## Streams\n",
        "| stream | subjects | retention | purpose |",
        "|---|---|---|---|",
    ]
    for stream in s.STREAMS:
        lines.append(
            f"| `<PREFIX>_{stream.name}` | `{stream.wildcard('<prefix>')}` | "
            f"{stream.max_age.days} days | {stream.description} |"
        )
    lines += ["", "## Messages\n", "| subject | model | schema |", "|---|---|---|"]
    for model in ALL_MESSAGES:
        name = f"{model.subject.path}.json"
        files[out / name] = json.dumps(schema_for(model), indent=2, sort_keys=True) + "\n"
        summary = (model.__doc__ or "").strip().splitlines()[0]
        lines.append(
            f"| `{model.subject.path}` | `{model.__name__}`: {summary} | [{name}]({name}) |"
        )
    files[out / "README.md"] = "\n".join(lines) + "\n"
    return files


def export(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = render(out)
    for stale in out.glob("*.json"):
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        path.write_text(text)
    return sorted(files)


def drift(out: Path) -> list[str]:
    """Differences between the committed export and the code (empty when in sync)."""
    files = render(out)
    problems = [
        f"{p.name} is out of date"
        for p, text in files.items()
        if not p.exists() or p.read_text() != text
    ]
    problems += [
        f"{p.name} is no longer in the contract" for p in out.glob("*.json") if p not in files
    ]
    return problems
