#!/usr/bin/env python3
"""Run every example in README.md, in order, in a fresh clone with no ``../shared`` beside it.

Each ```bash line (continuations joined) runs as written in a new bash from the clone's root; each ```python
block runs as a script there. The clone gets an empty $HOME (so an empty ~/.cache/vantage and no venv), so the
first command creates the environment as a new user's would. The two folders of the user's own data that the
README names are put where it says before the examples run: ``~/coil-20-proc`` (COIL-20 as unzipped: the real
set when ``../shared/data/coil20`` is beside this checkout, else a rendered turntable with COIL names) and
``~/ShapeNetCore`` (a few ShapeNet-style synset folders and taxonomy.json).

An example that asks for pretrained weights (``--pretrained`` or ``pretrained=``) needs the model hub; when the
hub cannot be reached it must fail within a minute with one ``error:`` line naming the weights. Every other
example must exit 0. ``--skip CMD`` leaves out the examples whose command (its comment aside) is CMD, and says
so. Usage (stdlib only; CI runs it from .ci/run):

    python3 scripts/readme_examples.py [--list] [--keep] [--work DIR] [--readme FILE] [--skip CMD ...]
                                       [--also CMD ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HUB = ("huggingface.co", 443)
OFFLINE_LIMIT_S = 60
TEST_COMMAND = "scripts/venv-run pytest"  # the README's test command; .ci/run runs the tests through it


@dataclass
class Example:
    """One README example: its language, code, the file and the line it starts on."""

    lang: str
    code: str
    line: int
    source: str = "README.md"

    @property
    def needs_hub(self) -> bool:
        """True when it downloads pretrained weights (a ``vantage:<recipe>`` start is made here, not downloaded)."""
        code = "\n".join(line.split("#", 1)[0] for line in self.code.splitlines())  # comments do not count
        code = re.sub(r"--pretrained\s+vantage:\S+", "", code)
        return "--pretrained" in code or re.search(r"pretrained\s*=\s*(True|['\"])", code) is not None

    @property
    def command(self) -> str:
        """The code without a trailing comment (bash) or as written (python)."""
        return self.code.split("#", 1)[0].strip() if self.lang == "bash" else self.code

    def title(self) -> str:
        first = self.code.strip().splitlines()[0]
        return f"{self.source}:{self.line} {self.lang}: {first[:110]}"


def extract(readme: Path) -> list[Example]:
    """The bash commands (one per line, ``\\`` continuations joined) and python blocks of a Markdown file."""
    examples: list[Example] = []
    lang, start, block = None, 0, []
    for n, line in enumerate(readme.read_text().splitlines(), 1):
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence and lang is None:
            lang, start, block = fence.group(1), n + 1, []
        elif fence:
            if lang == "python":
                examples.append(Example("python", "\n".join(block), start, readme.name))
            elif lang in ("bash", "sh", "shell"):
                pending, first = "", start
                for k, text in enumerate(block):
                    if not pending:
                        first = start + k
                    if text.rstrip().endswith("\\"):
                        pending += text.rstrip()[:-1] + " "
                        continue
                    command = (pending + text).strip()
                    pending = ""
                    if command and not command.startswith("#"):
                        examples.append(Example("bash", command, first, readme.name))
            lang = None
        elif lang is not None:
            block.append(line)
    return examples


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers a TCP connection."""
    try:
        with socket.create_connection(HUB, timeout=timeout):
            return True
    except OSError:
        return False


def prepare(work: Path) -> tuple[Path, dict[str, str]]:
    """A fresh clone of this repository's HEAD under ``work`` (no ``../shared`` beside it) and its environment."""
    clone = work / "clone" / "vantage"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VANTAGE_")}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    assert not (clone.parent / "shared").exists()
    return clone, env


def user_data(clone: Path, env: dict[str, str]) -> None:
    """Put the user's own folders the README names into the fresh $HOME (see the module docstring)."""
    home = Path(env["HOME"])
    real = REPO.parent / "shared" / "data" / "coil20"
    coil = home / "coil-20-proc"
    if (real / "obj1__0.png").is_file():
        shutil.copytree(real, coil)
        print(f"[readme] ~/coil-20-proc: the real COIL-20 from {real}", flush=True)
    code = "from pathlib import Path; from vantage.data import render_turntable, write_mesh_folder\n"
    code += "write_mesh_folder(Path.home() / 'ShapeNetCore')\n"
    if not coil.exists():
        code += "render_turntable(Path.home() / 'coil-20-proc', objects=6, poses=72, size=64, elevation=15)\n"
    subprocess.run(["scripts/venv-run", "python", "-c", code], cwd=clone, env=env, check=True)
    if not (real / "obj1__0.png").is_file():
        print("[readme] ~/coil-20-proc: 6 rendered objects x 72 azimuths, COIL-20 names", flush=True)
    print("[readme] ~/ShapeNetCore: 2 synsets x 2 meshes + taxonomy.json", flush=True)


def run(example: Example, clone: Path, env: dict[str, str], online: bool, scratch: Path) -> tuple[bool, str]:
    """Run one example; (passed, what happened)."""
    if example.lang == "python":
        script = scratch / f"readme_{example.line}.py"
        script.write_text(example.code + "\n")
        argv = ["scripts/venv-run", "python", str(script)]
    else:
        argv = ["bash", "-c", example.code]
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    if example.needs_hub and not online:
        errors = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
        clean = proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr
        if example.lang == "python":  # the Python API raises; the message must say what to do
            clean = proc.returncode != 0 and "pretrained" in proc.stderr.lower()
        ok = clean and seconds < OFFLINE_LIMIT_S
        return ok, f"offline: failed as it should in {seconds:.0f} s" if ok else f"offline failure not clean:\n{tail}"
    if proc.returncode != 0:
        return False, f"exit {proc.returncode} after {seconds:.0f} s:\n{tail}"
    last = next((x for x in reversed(proc.stdout.strip().splitlines()) if x.strip()), "")
    return True, f"ok in {seconds:.0f} s" + (f" | {last.strip()[:150]}" if last else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="Print the examples and exit.")
    parser.add_argument("--keep", action="store_true", help="Keep the clone and its outputs.")
    parser.add_argument("--work", type=Path, help="Folder for the clone (default: a new temporary folder).")
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="CMD",
        help="A further bash command to run in the clone after the examples (repeatable; CI: lint).",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="CMD",
        help="Leave out the README examples whose command is CMD (repeatable; CI: the default-scale main job).",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        default=REPO / "README.md",
        help="Markdown file whose examples to run (default: README.md; another file to try a few).",
    )
    args = parser.parse_args()
    if not args.readme.is_file():
        print(f"[readme] {args.readme}: no such file", file=sys.stderr)
        return 2
    examples = extract(args.readme) + [Example("bash", cmd, 0, "--also") for cmd in args.also]
    unknown = [cmd for cmd in args.skip if cmd not in [e.command for e in examples]]
    if unknown:
        print(f"[readme] --skip {unknown[0]!r}: no README example has that command", file=sys.stderr)
        return 2
    if TEST_COMMAND in args.skip:
        print(f"[readme] --skip {TEST_COMMAND!r}: the tests cannot be skipped", file=sys.stderr)
        return 2
    if args.readme == REPO / "README.md" and TEST_COMMAND not in [e.command for e in examples]:
        print(f"[readme] README.md has no `{TEST_COMMAND}` example: .ci/run relies on it to run the tests",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.list:
        for e in examples:
            print(("[hub] " if e.needs_hub else "") + e.title())
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="vantage-readme-"))
    online = hub_reachable()
    print(f"[readme] {len(examples)} examples; clone in {work}; model hub {'reachable' if online else 'offline'}",
          flush=True)  # fmt: skip
    clone, env = prepare(work)
    started, failed, skipped, prepared = time.perf_counter(), [], 0, False
    scratch = work / "scratch"
    scratch.mkdir(exist_ok=True)
    try:
        for i, example in enumerate(examples, 1):
            print(f"[readme] {i}/{len(examples)} {example.title()}", flush=True)
            if example.command in args.skip:
                print("[readme]   skipped (--skip)", flush=True)
                skipped += 1
                continue
            if i > 1 and not prepared:  # after the first command has created .venv, as a new user's does
                user_data(clone, env)
                prepared = True
            ok, what = run(example, clone, env, online, scratch)
            print(f"[readme]   {'ok' if ok else 'FAILED'}: {what}", flush=True)
            if not ok:
                failed.append(example.title())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    minutes = (time.perf_counter() - started) / 60
    ran = len(examples) - skipped
    print(f"[readme] {ran - len(failed)}/{ran} examples passed in {minutes:.1f} min ({skipped} skipped)", flush=True)
    for title in failed:
        print(f"[readme] failed: {title}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
