"""The `relay` command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from relay_cli import config_table, contract_export
from relay_cli.status import status as status_command
from relay_cli.up import UpOptions
from relay_cli.up import up as up_command
from relay_common.logging import configure_logging

app = typer.Typer(help="Relay: many AI-powered WhatsApp bots, one dashboard.", no_args_is_help=True)
contract_app = typer.Typer(help="The public NATS contract.", no_args_is_help=True)
app.add_typer(contract_app, name="contract")


@app.callback()
def _logging() -> None:
    """Log lines go to stderr, so stdout carries only what a command prints."""
    configure_logging("relay", os.environ.get("LOG_LEVEL", "WARNING"), "console")


REPO_ROOT = Path(__file__).resolve().parents[4]
"""The checkout this command runs from (the workspace installs it editable)."""

DataDir = Annotated[
    Path,
    typer.Option("--data-dir", envvar="RELAY_DATA_DIR", help="Folder for data, logs and state."),
]


def _default_data_dir() -> Path:
    return Path(".relay")


@app.command()
def up(
    data_dir: DataDir = _default_data_dir(),  # noqa: B008
    web_dist: Annotated[
        Path | None, typer.Option(envvar="GATEWAY_WEB_DIST", help="Built web UI to serve.")
    ] = None,
) -> None:
    """Run the whole product on this machine; Ctrl-C stops everything."""
    dist = web_dist or REPO_ROOT / "web" / "dist"
    options = UpOptions(
        data_dir=data_dir.resolve(),
        host=os.environ.get("GATEWAY_HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8080")),
        web_dist=dist if (dist / "index.html").exists() else None,
    )
    sys.exit(asyncio.run(up_command(options)))


@app.command()
def status(
    data_dir: DataDir = _default_data_dir(),  # noqa: B008
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Health of every service (exit code 1 when a service has no ready instance)."""
    sys.exit(asyncio.run(status_command(data_dir.resolve(), as_json)))


@app.command()
def config() -> None:
    """Every environment variable, its default and meaning (a Markdown table)."""
    print(config_table.markdown())


@app.command("extract")
def extract_command(
    model: Annotated[
        bool,
        typer.Option(
            "--model", help="Also ask the model (DEEPSEEK_API_KEY) for name and location."
        ),
    ] = False,
    region: Annotated[
        str | None,
        typer.Option(help="Region (e.g. ES) for lines that give none or an invalid one."),
    ] = None,
) -> None:
    """Lead details (phone, email, name, location) for each JSON line on stdin, one line out."""
    from relay_ai_worker.providers import build_model
    from relay_ai_worker.settings import Settings as AiWorkerSettings
    from relay_cli.extract import MODEL_NOT_CONFIGURED, run

    chat_model = build_model(AiWorkerSettings().model_settings()) if model else None
    if model and chat_model is None:
        print(MODEL_NOT_CONFIGURED, file=sys.stderr)
        sys.exit(2)
    try:
        code = run(sys.stdin.buffer, sys.stdout.buffer, sys.stderr, region, chat_model)
    except OSError as error:
        print(f"relay extract: cannot read stdin or write stdout: {error}", file=sys.stderr)
        code = 1
    sys.exit(code)


bench_app = typer.Typer(help="Benchmarks that print numbers (last line JSON).")
app.add_typer(bench_app, name="bench")


@bench_app.command("sessions")
def bench_sessions(
    sessions: Annotated[int, typer.Option(min=1, help="Idle simulated sessions.")] = 200,
) -> None:
    """Memory per idle simulated session and the time to start them."""
    from relay_cli.bench import bench_sessions as run

    print(json.dumps(asyncio.run(run(sessions))))


@bench_app.command("failover")
def bench_failover(
    bots: Annotated[int, typer.Option(min=1, help="Simulated bots.")] = 60,
    workers: Annotated[int, typer.Option(min=2, help="Session worker processes.")] = 3,
) -> None:
    """How fast a killed (SIGKILL) and a stopped (SIGTERM) worker's bots move; lost messages."""
    from relay_cli.bench import bench_failover as run

    print(json.dumps(asyncio.run(run(bots, workers))))


@bench_app.command("sse")
def bench_sse(
    clients: Annotated[int, typer.Option(min=1, help="Open event streams.")] = 1000,
    events: Annotated[int, typer.Option(min=1, help="Events published, one at a time.")] = 20,
    gap_s: Annotated[float, typer.Option(min=0, help="Pause between events.")] = 0.2,
) -> None:
    """Time from bus publish to receipt at every open event stream; gateway memory."""
    from relay_cli.bench_sse import bench_sse as run

    print(json.dumps(uvloop.run(run(clients, events, gap_s))))


@contract_app.command("export")
def contract_export_command(
    out: Annotated[Path, typer.Option(help="Where to write.")] = REPO_ROOT / "docs" / "contract",
) -> None:
    """Write every subject's JSON Schema and an index to docs/contract/."""
    for path in contract_export.export(out):
        print(path)


@contract_app.command("check")
def contract_check(
    out: Annotated[Path, typer.Option(help="Folder to compare.")] = REPO_ROOT / "docs" / "contract",
) -> None:
    """Exit 1 when docs/contract/ differs from the code."""
    problems = contract_export.drift(out)
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)
