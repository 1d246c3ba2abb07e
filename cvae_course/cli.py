"""The ``cvae-course`` command: ``lab`` opens the course; other subcommands serve instructors."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def _lab(args: argparse.Namespace) -> int:
    if not NOTEBOOKS.is_dir():
        print(f"No notebooks/ folder next to the package ({NOTEBOOKS}); run this from a clone of the course "
              "installed with `pip install -e .`.", file=sys.stderr)
        return 2
    start = NOTEBOOKS / "00_welcome.ipynb"
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}"]
    if start.exists():
        cmd.append(str(start.relative_to(ROOT)))
    cmd += args.jupyter_args
    return subprocess.call(cmd, cwd=ROOT, env=os.environ.copy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvae-course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="open the course in JupyterLab")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed on to `jupyter lab`")
    lab.set_defaults(func=_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
