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
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        cmd.append("--ServerApp.allow_root=True")
    cmd += args.jupyter_args
    return subprocess.call(cmd, cwd=ROOT, env=os.environ.copy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvae-course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="open the course in JupyterLab (other options go to `jupyter lab`)")
    lab.set_defaults(func=_lab, passes_extra_args=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passes_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
