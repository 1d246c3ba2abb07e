"""The full-course report: every lesson run in full mode, in order, each in a fresh kernel, timed, its claims listed.

``cvae-course report`` (:func:`run` then :func:`write`) runs every notebook in ``notebooks/`` one after the other
as a learner would, from an empty model cache (so each model is trained where the course first trains it, and later
lessons reuse it), and writes ``docs/full-course-report.md`` with a machine-readable sidecar
(``docs/full-course-report.json``):

* the machine: cores, CPU model, TensorFlow and Python versions, the load average before and after the run;
* the data: where MNIST came from and how many training and test images it holds;
* the wall time of each lesson and of each training cell (code cells tagged ``train``), and each training cell's
  time projected to 60,000 training images by images seen: a lesson trains on the whole training split in full
  mode, so images seen, and the time, scale with its size (compilation and set-up are scaled too: an upper
  estimate);
* every claim of every lesson (:mod:`cvae_course.claims`) with its measured value and status, read from the
  executed cells (:func:`cvae_course.claims.records`);
* every failed claim, cell error, time-out and stderr output, listed, not hidden.

A lesson that fails does not stop the others: each runs in its own kernel, a cell that runs over the time-out is
interrupted and recorded, and a kernel that dies is recorded with the lesson. The exit status of the command is 0
only when every lesson ran without a cell error and every claim held.

The README's time statements come from the report: :func:`readme_block` renders them from the sidecar, and
:func:`update_readme` rewrites the block between :data:`README_BEGIN` and :data:`README_END` (a test checks that
the committed README agrees with the committed report).

This module imports no TensorFlow: the lessons import it in their own kernels.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from cvae_course import settings
from cvae_course.tools import NOTEBOOKS, ROOT

__all__ = [
    "FULL_TRAIN_SIZE",
    "README_BEGIN",
    "README_END",
    "REPORT_JSON",
    "REPORT_MD",
    "TRAIN_TAG",
    "CellRun",
    "LessonRun",
    "Machine",
    "Report",
    "markdown",
    "readme_block",
    "run",
    "run_lesson",
    "update_readme",
    "write",
]

TRAIN_TAG = "train"  # the tag of a cell that trains a model (cvae_course.tools.notebook_state checks it)
FULL_TRAIN_SIZE = 60_000  # MNIST's whole training split, what a learner with the download trains on
SLOW_CELL_SECONDS = 5.0  # cells slower than this are listed: a learner waits, so they must show progress
REPORT_MD = ROOT / "docs" / "full-course-report.md"
REPORT_JSON = REPORT_MD.with_suffix(".json")
README = ROOT / "README.md"
README_BEGIN = "<!-- full-course-report: begin (written by `cvae-course report`; do not edit by hand) -->"
README_END = "<!-- full-course-report: end -->"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CLAIM_FAILED = "ClaimFailed:"  # the error a failed claim raises (cvae_course.claims.ClaimFailed)


# --------------------------------------------------------------------------------------------- what a run records
@dataclass
class CellRun:
    """One executed code cell: its position, tags, first line, wall time in seconds, errors and claims."""

    index: int
    label: str
    tags: list[str]
    seconds: float
    errors: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)

    @property
    def trains(self) -> bool:
        return TRAIN_TAG in self.tags


@dataclass
class LessonRun:
    """One lesson run in its own kernel: wall time in seconds (kernel start included) and its cells."""

    name: str
    seconds: float
    load_before: list[float]
    cells: list[CellRun] = field(default_factory=list)
    failure: str = ""  # what stopped the lesson early (a dead kernel, a notebook that could not be read)

    @property
    def training_seconds(self) -> float:
        return sum(c.seconds for c in self.cells if c.trains)

    @property
    def claims(self) -> list[dict]:
        return [c for cell in self.cells for c in cell.claims]

    @property
    def errors(self) -> list[tuple[int, str]]:
        """(cell, error) for each cell error; a failed claim is listed with the claims instead."""
        return [(cell.index, e) for cell in self.cells for e in cell.errors if not e.startswith(_CLAIM_FAILED)]


@dataclass
class Machine:
    """Where the run happened; the load average (1, 5, 15 minutes) says how busy the machine was."""

    cores: int
    cpu: str
    tensorflow: str
    python: str
    load_before: list[float]
    load_after: list[float] = field(default_factory=list)


@dataclass
class Report:
    """Everything :func:`markdown` and :func:`readme_block` render; :meth:`to_json` / :meth:`from_json` keep it."""

    mode: str
    started: str
    cache: str
    data_source: str
    train_size: int | None
    test_size: int | None
    machine: Machine
    lessons: list[LessonRun] = field(default_factory=list)

    # ---- summaries
    @property
    def seconds(self) -> float:
        return sum(lesson.seconds for lesson in self.lessons)

    @property
    def claims(self) -> list[tuple[str, dict]]:
        return [(lesson.name, c) for lesson in self.lessons for c in lesson.claims]

    @property
    def failed_claims(self) -> list[tuple[str, dict]]:
        return [(name, c) for name, c in self.claims if c.get("status") == "fails"]

    @property
    def ok(self) -> bool:
        """Every lesson ran to the end without a cell error, and every claim held."""
        return all(not lesson.failure and not lesson.errors for lesson in self.lessons) and not self.failed_claims

    def scale(self) -> float | None:
        """Factor from this run's training-set size to MNIST's 60,000 training images (None if unknown)."""
        return FULL_TRAIN_SIZE / self.train_size if self.train_size else None

    def projected(self, lesson: LessonRun) -> float | None:
        """The lesson's wall time with its training cells scaled to 60,000 training images."""
        factor = self.scale()
        if factor is None:
            return None
        return lesson.seconds - lesson.training_seconds + lesson.training_seconds * factor

    # ---- storage
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Report:
        raw = json.loads(text)
        machine = Machine(**raw.pop("machine"))
        lessons = []
        for lesson in raw.pop("lessons"):
            cells = [CellRun(**cell) for cell in lesson.pop("cells")]
            lessons.append(LessonRun(**lesson, cells=cells))
        return cls(**raw, machine=machine, lessons=lessons)


# --------------------------------------------------------------------------------------------- the machine and data
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return []


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> Machine:
    """The machine this process runs on, with the load average now."""
    return Machine(
        cores=os.cpu_count() or 0,
        cpu=_cpu_model(),
        tensorflow=_version("tensorflow"),
        python=platform.python_version(),
        load_before=_load(),
    )


def _data_file(env: dict) -> Path | None:
    """The mnist.npz the lessons read: the one named by CVAE_COURSE_MNIST, or Keras's download (if it is there)."""
    named = env.get(settings.DATA_ENV)
    if named:
        return Path(named).expanduser()
    download = Path.home() / ".keras" / "datasets" / "mnist.npz"
    return download if download.is_file() else None


def data_sizes(env: dict) -> tuple[str, int | None, int | None]:
    """(source, training images, test images) of the MNIST file the lessons read; sizes None when unreadable.

    In full mode the lessons train on the whole training split of that file, so its size is the run's training-set
    size (24,345 images in the course's shared offline file, 60,000 in Keras's download).
    """
    from cvae_course.data import MNISTFileError, read_mnist_npz

    path = _data_file(env)
    source = str(path) if env.get(settings.DATA_ENV) else "keras.datasets.mnist.load_data()"
    if path is None:
        return source, None, None
    try:
        (x_train, _), (x_test, _) = read_mnist_npz(path)
    except MNISTFileError:
        return source, None, None
    return source, len(x_train), len(x_test)


# --------------------------------------------------------------------------------------------- running the lessons
def _label(source: str, width: int = 72) -> str:
    """The first line of a cell that is not a comment or a magic, shortened: what the cell does, at a glance."""
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith(("#", "%")):
            return text if len(text) <= width else text[: width - 3] + "..."
    return "(comments only)"


def _first_line(text: str) -> str:
    lines = [ln for ln in _ANSI.sub("", text).strip().splitlines() if ln.strip()]
    return lines[0].strip() if lines else ""


def _cell_record(index: int, cell, seconds: float) -> CellRun:
    from cvae_course import claims

    errors, stderr = [], []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            errors.append(f"{out.get('ename', 'Error')}: {_first_line(str(out.get('evalue', '')))}".rstrip(": "))
        elif out.get("output_type") == "stream" and out.get("name") == "stderr":
            line = _first_line(out.get("text", ""))
            if line:
                stderr.append(line)
    return CellRun(
        index=index,
        label=_label(cell.get("source", "")),
        tags=list(cell.get("metadata", {}).get("tags", [])),
        seconds=round(seconds, 2),
        errors=errors,
        stderr=stderr,
        claims=claims.records(cell.get("outputs", [])),
    )


def kernel_environment(mode: str = "full", cache: str | os.PathLike | None = None) -> dict:
    """The lessons' environment: this one with the mode set and, when given, the model cache folder."""
    if mode not in settings.MODES:
        raise ValueError(f"mode must be one of {settings.MODES}, got {mode!r}")
    env = dict(os.environ)
    env[settings.FAST_ENV] = "1" if mode == "fast" else "0"
    if cache is not None:
        env[settings.CACHE_ENV] = str(cache)
    return env


def run_lesson(
    path: str | os.PathLike, env: dict, *, cell_timeout: int = 900, executed: Path | None = None, log=print
) -> LessonRun:
    """Run one notebook top to bottom in a fresh kernel with ``env``; never raises for what happens inside it.

    A cell error is recorded and the next cells still run (as after "Run All" with errors allowed); a cell that
    runs over ``cell_timeout`` seconds is interrupted and recorded as a time-out; a kernel that dies ends the lesson
    and is recorded. With ``executed``, the executed notebook is saved there under its own name.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    lesson = LessonRun(name=path.stem, seconds=0.0, load_before=_load())
    start = time.perf_counter()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # unreadable JSON, a missing file: the other lessons still run
        lesson.failure = f"could not read the notebook: {type(err).__name__}: {_first_line(str(err))}"
        return lesson
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        with client.setup_kernel(env=env):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                began = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                finally:
                    record = _cell_record(index, cell, time.perf_counter() - began)
                    if record.seconds >= cell_timeout:  # interrupted: the kernel reports a KeyboardInterrupt
                        record.errors = [f"CellTimeout: the cell ran over {cell_timeout} s and was interrupted"] + [
                            e for e in record.errors if not e.startswith("KeyboardInterrupt")
                        ]
                    lesson.cells.append(record)
                    if record.errors:
                        log(f"  {lesson.name} cell {index}: {record.errors[0]}")
    except Exception as err:  # a dead kernel, a kernel that would not start
        lesson.failure = f"{type(err).__name__}: {_first_line(str(err)) or 'the kernel stopped'}"
        log(f"  {lesson.name}: {lesson.failure}")
    lesson.seconds = round(time.perf_counter() - start, 2)
    if executed is not None:
        executed.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed / path.name)
    return lesson


def run(
    notebooks=None,
    *,
    mode: str = "full",
    keep_cache: bool = False,
    cell_timeout: int = 900,
    executed: str | os.PathLike | None = None,
    log=print,
) -> Report:
    """Run ``notebooks`` (default: every lesson in ``notebooks/``, in order), each in a fresh kernel.

    Args:
        notebooks: paths of the notebooks to run, in the order given.
        mode: "full" (what learners run, the default) or "fast".
        keep_cache: use the model cache the environment names (``CVAE_COURSE_CACHE``, else ``~/.cache/cvae-course``)
            instead of a new empty one, so models cached before are loaded, not trained.
        cell_timeout: seconds after which a cell is interrupted and recorded as a time-out.
        executed: a folder to save the executed notebooks in (e.g. for a course site).
        log: where progress lines go (``print``; pass ``lambda *a: None`` for silence).
    """
    paths = [Path(p) for p in notebooks] if notebooks else sorted(NOTEBOOKS.glob("*.ipynb"))
    empty_cache = None if keep_cache else tempfile.mkdtemp(prefix="cvae-course-report-cache-")
    env = kernel_environment(mode, empty_cache)
    source, train_size, test_size = data_sizes(env)
    report = Report(
        mode=mode,
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cache="empty at the start" if empty_cache else f"kept ({settings.cache_dir()})",
        data_source=source,
        train_size=train_size,
        test_size=test_size,
        machine=machine(),
    )
    executed = Path(executed) if executed is not None else None
    try:
        for path in paths:
            log(f"{path.stem}: running in {mode} mode (load average {_load()})")
            lesson = run_lesson(path, env, cell_timeout=cell_timeout, executed=executed, log=log)
            held = sum(c.get("status") == "holds" for c in lesson.claims)
            log(
                f"{path.stem}: {lesson.seconds:.0f} s, {held}/{len(lesson.claims)} claims held, "
                f"{len(lesson.errors)} cell errors{', ' + lesson.failure if lesson.failure else ''}"
            )
            report.lessons.append(lesson)
    finally:
        if empty_cache:
            shutil.rmtree(empty_cache, ignore_errors=True)
    if report.train_size is None:  # a download made during the run
        report.data_source, report.train_size, report.test_size = data_sizes(env)
    report.machine.load_after = _load()
    return report


# --------------------------------------------------------------------------------------------- rendering
def _s(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds:,.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _n(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _load_text(load: list[float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load) if load else "unknown"


_STATUS = {"holds": "holds", "fails": "**FAILS**", "not checked": "not checked"}


def markdown(report: Report) -> str:
    """The report as markdown: machine, data, times, training cells, slow cells, claims and problems."""
    m, factor = report.machine, report.scale()
    lines = [
        "# Full-course report",
        "",
        f"Written by `cvae-course report` ({report.started}): every lesson run in **{report.mode} mode**, in order, "
        f"each in a fresh kernel; model cache {report.cache}. The sidecar `{REPORT_JSON.name}` holds the same "
        "numbers for tools.",
        "",
        "## Machine and data",
        "",
        "| | |",
        "| --- | --- |",
        f"| cores | {m.cores} |",
        f"| CPU | {_cell(m.cpu)} |",
        f"| TensorFlow, Python | {m.tensorflow}, {m.python} |",
        f"| load average (1 / 5 / 15 min) before the run | {_load_text(m.load_before)} |",
        f"| load average (1 / 5 / 15 min) after the run | {_load_text(m.load_after)} |",
        f"| data | {_cell(report.data_source)} |",
        f"| training images | {_n(report.train_size)} |",
        f"| test images | {_n(report.test_size)} |",
        "",
        "Projections to 60,000 training images (MNIST's whole training split, what a learner with the download "
        f"trains on) scale the time of every training cell by {'?' if factor is None else f'{factor:.2f}'} "
        "(60,000 / training images): in full mode a lesson trains on the whole training split, so the images seen, "
        "and the time, grow with it. Set-up and compilation inside a training cell are scaled too, so a projection "
        "is an upper estimate. Times depend on the load above: on a busy machine they are only indicative.",
        "",
        "## Time per lesson",
        "",
        "| lesson | wall time | of which training | projected to 60,000 images | claims held | cell errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for lesson in report.lessons:
        held = sum(c.get("status") == "holds" for c in lesson.claims)
        errors = len(lesson.errors) + bool(lesson.failure)
        lines.append(
            f"| {lesson.name} | {_s(lesson.seconds)} | {_s(lesson.training_seconds)} | "
            f"{_s(report.projected(lesson))} | {held} / {len(lesson.claims)} | {errors} |"
        )
    total_projected = None if factor is None else sum(report.projected(lesson) for lesson in report.lessons)
    lines.append(
        f"| **total** | **{_s(report.seconds)}** | "
        f"**{_s(sum(lesson.training_seconds for lesson in report.lessons))}** | **{_s(total_projected)}** | "
        f"{sum(c.get('status') == 'holds' for _, c in report.claims)} / {len(report.claims)} | "
        f"{sum(len(lesson.errors) + bool(lesson.failure) for lesson in report.lessons)} |"
    )
    untagged = [lesson.name for lesson in report.lessons if lesson.cells and not any(c.trains for c in lesson.cells)]
    lines += [
        "",
        "## Training cells",
        "",
        f"Code cells tagged `{TRAIN_TAG}` (a cell that calls `training.train` or a recipe that trains carries "
        "the tag)."
        + (
            f" No cell is tagged so in {', '.join(untagged)}: their projections equal their wall times."
            if untagged
            else ""
        ),
        "",
        "| lesson | cell | what it runs | wall time | projected to 60,000 images |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for lesson in report.lessons:
        for cell in lesson.cells:
            if cell.trains:
                lines.append(
                    f"| {lesson.name} | {cell.index} | `{_cell(cell.label)}` | {_s(cell.seconds)} | "
                    f"{_s(None if factor is None else cell.seconds * factor)} |"
                )
    slow = [
        (lesson.name, c)
        for lesson in report.lessons
        for c in lesson.cells
        if c.seconds > SLOW_CELL_SECONDS and not c.trains
    ]
    lines += ["", "## Other cells over 5 s", ""]
    if slow:
        lines += ["| lesson | cell | what it runs | wall time |", "| --- | ---: | --- | ---: |"]
        lines += [f"| {name} | {c.index} | `{_cell(c.label)}` | {_s(c.seconds)} |" for name, c in slow]
    else:
        lines.append("None.")
    lines += [
        "",
        "## Claims",
        "",
        "Every sentence of a lesson that states a result of the run, checked by the claim cell after it "
        "(`cvae_course.claims`).",
        "",
    ]
    for lesson in report.lessons:
        lines += [f"### {lesson.name}", ""]
        if not lesson.claims:
            lines += ["No claim cells.", ""]
            continue
        lines += ["| status | claim | measured |", "| --- | --- | --- |"]
        lines += [
            f"| {_STATUS.get(c.get('status'), c.get('status'))} | {_cell(c.get('sentence', ''))}"
            f"{' (full mode)' if c.get('full_only') else ''} | {_cell(c.get('measured', ''))} |"
            for c in lesson.claims
        ]
        lines.append("")
    lines += ["## Problems", ""]
    problems = []
    for lesson in report.lessons:
        if lesson.failure:
            problems.append(f"- {lesson.name}: the lesson stopped: {_cell(lesson.failure)}")
        for c in lesson.claims:
            if c.get("status") == "fails":
                problems.append(
                    f'- {lesson.name}: claim failed: "{c.get("sentence")}" (measured '
                    f"{c.get('measured') or 'otherwise'})"
                )
        for index, error in lesson.errors:
            problems.append(f"- {lesson.name}, cell {index}: {_cell(error)}")
        for cell in lesson.cells:
            for line in cell.stderr:
                problems.append(f"- {lesson.name}, cell {cell.index}: wrote to stderr: {_cell(line)}")
    lines += problems or ["None: every lesson ran to the end, every claim held, nothing was written to stderr."]
    return "\n".join(lines) + "\n"


def readme_block(report: Report) -> str:
    """The README's time statements, between :data:`README_BEGIN` and :data:`README_END`, from ``report``."""
    m = report.machine
    intro = (
        f"How long the lessons take, from the [full-course report](docs/full-course-report.md) "
        f"({report.started}, {report.mode} mode, model cache {report.cache}, {m.cores} cores ({m.cpu}), "
        f"load average {_load_text(m.load_before)} before the run): wall time per lesson on "
        f"{_n(report.train_size)} training images, and projected to the 60,000 of MNIST's download by scaling "
        "its training cells (an upper estimate). On a busy machine the times are only indicative."
    )
    lines = [
        README_BEGIN,
        *textwrap.wrap(intro, width=117, break_long_words=False, break_on_hyphens=False),
        "",
        f"| lesson | {_n(report.train_size)} training images | 60,000 training images (projected) |",
        "| --- | ---: | ---: |",
    ]
    for lesson in report.lessons:
        lines.append(f"| {lesson.name} | {_s(lesson.seconds)} | {_s(report.projected(lesson))} |")
    total = None if report.scale() is None else sum(report.projected(lesson) for lesson in report.lessons)
    lines += [f"| all lessons | {_s(report.seconds)} | {_s(total)} |", README_END]
    return "\n".join(lines)


def update_readme(report: Report, readme: str | os.PathLike = README) -> bool:
    """Rewrite the README's block between the markers from ``report``; True when the text changed."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise ValueError(
            f"{path} has no block between {README_BEGIN!r} and {README_END!r}; add the two marker "
            "lines where the lesson times belong"
        )
    new = text[:begin] + readme_block(report) + text[end + len(README_END) :]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def write(report: Report, out: str | os.PathLike = REPORT_MD) -> tuple[Path, Path]:
    """Write the markdown report to ``out`` and its JSON sidecar next to it; returns both paths."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(report), encoding="utf-8")
    sidecar = out.with_suffix(".json")
    sidecar.write_text(report.to_json(), encoding="utf-8")
    return out, sidecar


def main_report(args) -> int:
    """The ``cvae-course report`` subcommand (see :mod:`cvae_course.tools.cli`)."""
    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        print(f"cvae-course report: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    report = run(
        paths,
        mode="fast" if args.fast else "full",
        keep_cache=args.keep_cache,
        cell_timeout=args.cell_timeout,
        executed=args.executed,
    )
    out = args.out or REPORT_MD
    md, sidecar = write(report, out)
    print(f"wrote {md} and {sidecar}")
    # The README quotes the committed report: only a full-mode run of every lesson, written where the README's link
    # points, may change what it says.
    whole_course = not args.notebooks and not args.fast and Path(out).resolve() == REPORT_MD.resolve()
    if args.readme and whole_course:
        changed = update_readme(report)
        print(f"README.md time statements {'updated' if changed else 'unchanged'}")
    elif args.readme:
        print(
            f"README.md left alone: only a full-mode run of every lesson written to {REPORT_MD.relative_to(ROOT)} "
            "rewrites its time statements"
        )
    if not report.ok:
        print(f"Not every claim held or a cell failed: see the Problems section of {md}", file=sys.stderr)
    return 0 if report.ok else 1
