"""Benchmark the tracker on SQLite and PostgreSQL, beside raw floors and the eventsourcing peer.

    .venv/bin/python bench/run.py --cases 100000 --db postgres --out bench/out/results.md

Progress goes to stderr, the markdown table to stdout (and to --out). See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_PYTHON = HERE.parent / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != VENV_PYTHON.parent.parent.resolve() and VENV_PYTHON.exists():
    # The tracker and its drivers live in the project's venv: run there whatever python started us.
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])

import benchenv  # noqa: E402
import floors  # noqa: E402
import report  # noqa: E402
from common import OUT_DIR, Section, log  # noqa: E402
from generate import generate  # noqa: E402
from steps import STEPS, Bench, attempt, step_import  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run_engine(engine: str, args: argparse.Namespace, data: Path, events: int) -> Section:
    section = Section(engine, cases=args.cases, events=events)
    db = benchenv.make(engine, args.pg_url)
    try:
        section.version = benchenv.server_version(db)
        b = Bench(db, args, section)
        for name in args.steps:
            if name == "import":
                step_import(b, data, events)
            else:
                attempt(b, f"step {name}", lambda name=name: STEPS[name](b))
        floors.drop_scratch(b.engine)
    finally:
        if not args.keep:
            benchenv.drop(db)
    return section


def committed_tree() -> Path:
    """The files of HEAD, exported beside the results, so edits in progress do not change the figures."""
    tree = OUT_DIR / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=HERE.parent, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def use_tree(tree: Path) -> None:
    """Import the tracker from `tree`, in this process and in every command it starts."""
    sys.path.insert(0, str(tree))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    log(f"measuring the committed tree exported to {tree}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=PG_DEFAULT, help="a server URL; the bench makes its own database")
    parser.add_argument("--skip-peer", action="store_true", help="do not measure the eventsourcing peer")
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=2000, help="requests per HTTP measurement")
    parser.add_argument("--appends", type=int, default=1000, help="single appends in-process")
    parser.add_argument("--batches", type=int, default=200, help="50-event batches in-process")
    parser.add_argument(
        "--committed",
        action="store_true",
        help="measure the last commit (git archive HEAD), not the work tree",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument(
        "--search-cases",
        type=int,
        default=0,
        help="the search step first adds synthetic cases up to this many (read models and index only)",
    )
    parser.add_argument(
        "--steps",
        default="import,reads,http,appends,scheduler,rebuild,search",
        help="comma-separated subset of the steps, in order (import first)",
    )
    args = parser.parse_args(argv)
    args.steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in args.steps if s != "import" and s not in STEPS]
    if unknown or args.cases < 10:
        parser.error(f"unknown step {unknown[0]}" if unknown else "--cases must be at least 10")
    started = time.perf_counter()
    load = report.LoadSampler()
    if args.committed:
        use_tree(committed_tree())
    data = OUT_DIR / f"cases-{args.cases}-s{args.seed}.jsonl"
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    log(f"generating {args.cases:,} cases into {data}")
    events = generate(data, args.cases, args.seed, date.today())
    engines = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    sections = []
    for engine in engines:
        section = run_engine(engine, args, data, events)
        name = f"PostgreSQL {section.version}" if engine == "postgres" else section.version
        title = f"{name}: {args.cases:,} cases, {events:,} events"
        sections.append((section, title))
    facts = report.machine(args.committed)
    facts["load average during the run"] = load.summary()
    facts["total run time"] = f"{(time.perf_counter() - started) / 60:.1f} min"
    command = "python bench/run.py " + " ".join(sys.argv[1:])
    text = report.document(sections, facts, command)
    print(text)
    if args.out:
        args.out.write_text(text)
    log(f"done in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
