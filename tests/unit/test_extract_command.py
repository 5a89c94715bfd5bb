"""`relay extract`: JSON lines in, exactly one JSON line out per line, never a crash."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from relay_cli.extract import run

RELAY = Path(sys.executable).with_name("relay")
KEYS = ["phone", "email", "name", "location"]
NOTHING = dict.fromkeys(KEYS)


def _relay_extract(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DEEPSEEK_API_KEY"}
    return subprocess.run(
        [str(RELAY), "extract", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
        env=env,
    )


def test_the_relay_command_answers_every_line_in_order() -> None:
    lines = [
        {"messages": ["hi", "my number is 612 345 678"], "region": "ES"},
        "this is { not json",
        {
            "messages": [
                {"role": "assistant", "text": "Call us on 910 123 456"},
                {"role": "user", "text": "soy Ana, de Sevilla: ana arroba gmail punto com"},
            ]
        },
        {"messages": ["+1 (646) 555-0123"], "region": "nowhere"},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    result = _relay_extract(stdin.encode())
    assert result.returncode == 0, result.stderr.decode()
    answers = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert all(list(answer) == KEYS for answer in answers)
    assert answers == [
        {"phone": "+34612345678", "email": None, "name": None, "location": None},
        NOTHING,
        {"phone": None, "email": "ana@gmail.com", "name": "Ana", "location": "Sevilla"},
        {"phone": "+16465550123", "email": None, "name": None, "location": None},
    ]
    assert "line 2" in result.stderr.decode()


def test_the_model_flag_without_a_model_says_what_to_set() -> None:
    result = _relay_extract(b'{"messages": ["hi"]}\n', "--model")
    assert result.returncode == 2
    assert "DEEPSEEK_API_KEY" in result.stderr.decode()
    assert result.stdout == b""


def test_odd_lines_get_an_all_null_answer_and_a_note() -> None:
    stdin = [
        b"\n",
        b"\xff\xfe not utf-8\n",
        b'{"unrelated": true}\n',
        b'{"messages": []}\n',
        b'["llamame al 612345678"]\n',
        b'"my number is 612345678"\n',
    ]
    out, err = io.BytesIO(), io.StringIO()
    assert run(stdin, out, err, default_region="es") == 0
    answers = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert answers[:4] == [NOTHING] * 4
    assert answers[4]["phone"] == "+34612345678"  # the default region applies
    assert answers[5]["phone"] == "+34612345678"
    notes = err.getvalue().splitlines()
    assert [note.split(":")[0:2] for note in notes] == [
        ["relay extract", " line 1"],
        ["relay extract", " line 2"],
        ["relay extract", " line 3"],
    ]


def test_thousands_of_lines_are_quick() -> None:
    line = json.dumps(
        {"messages": ["Hola, vi el piso de 1.250.000€", "mi móvil es 655 12 34 89"], "region": "ES"}
    ).encode()
    out = io.BytesIO()
    started = time.perf_counter()
    run([line] * 2000, out, io.StringIO(), default_region=None)
    elapsed = time.perf_counter() - started
    assert out.getvalue().count(b"\n") == 2000
    assert elapsed < 4, f"{2000 / elapsed:.0f} lines/s"
