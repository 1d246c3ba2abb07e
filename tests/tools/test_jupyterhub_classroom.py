"""A real classroom, end to end: JupyterHub, local accounts, nbgrader's exchange and `cvae-course grade`.

An instructor and two learners get real system accounts and log in to a real JupyterHub on loopback (PAM, one
local Jupyter server each, the course's environment for all, nbgrader's exchange in a temporary folder). Then the
assignment goes round once, each step done the way that person does it:

1. the instructor generates and releases ``01_autoencoder`` from Formgrader (its REST API);
2. each learner fetches it from the Assignments tab, edits it (saved through the contents API, as JupyterLab
   does), runs cells in their own kernel and submits; ``alice`` solves everything, ``bob`` only the encoder and
   the decoder;
3. the instructor collects from Formgrader, then in a terminal grades the collected ``submitted/`` folder with
   ``cvae-course grade`` (which writes the feedback in the layout nbgrader reads) and releases the feedback with
   ``nbgrader release_feedback`` (the README's step 4);
4. each learner fetches their feedback from the Assignments tab.

The tests then check logins, who may use which server and tool, the grades, the feedback, and what each learner
can find and read on the machine. Needs root, JupyterHub in this environment and ``configurable-http-proxy`` on
PATH: skipped with the reason without them, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from hub_support import (
    BIN,
    COURSE_ID,
    UserServer,
    missing_requirements,
    opens,
    private_folder,
    readable_files,
    run_as,
    running_hub,
    system_users,
)

import cvae_course
from cvae_course.tools import SOLUTIONS, grading
from cvae_course.tools.nbgrader_plugins import hidden_lines, leaked_lines, visible_text

AE = "01_autoencoder"
NOTEBOOK = f"{AE}/{AE}.ipynb"  # where fetch puts it, relative to the learner's home
BOB_SOLVES = {"ae_encoder_answer", "ae_decoder_answer"}
EXPECTED = {  # points per test cell: alice solved all; bob's training cell runs (it needs only his encoder and decoder)
    "alice": {"ae_encoder": 2, "ae_decoder": 2, "ae_reconstruction": 3, "ae_learned": 1, "ae_worst": 2},
    "bob": {"ae_encoder": 2, "ae_decoder": 2, "ae_reconstruction": 0, "ae_learned": 1, "ae_worst": 0},
}
LEARNERS = ("alice", "bob")
PROBE = (
    "import json, os, sys, cvae_course\n"
    "print(json.dumps({'version': sys.version, 'base_prefix': sys.base_prefix, 'uid': os.getuid(),"
    " 'cwd': os.getcwd(), 'package': cvae_course.__file__}))"
)


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} CI must run the classroom test (.ci/run installs what it needs).")
    pytest.skip(reason)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _answers() -> dict[str, str]:
    """grade_id -> the solution code of each answer cell, without nbgrader's markers (as a learner types it)."""
    source = nbformat.read(SOLUTIONS / f"{AE}.ipynb", as_version=4)
    return {
        _meta(c)["grade_id"]: "\n".join(ln for ln in c.source.splitlines() if "### " not in ln)
        for c in source.cells
        if _meta(c).get("solution")
    }


def _hidden_lines() -> list[str]:
    """Every line of every hidden-test block of the notebook."""
    return hidden_lines(nbformat.read(SOLUTIONS / f"{AE}.ipynb", as_version=4))


def _contains_hidden_tests(text: str, hidden: list[str]) -> list[str]:
    return leaked_lines(text, hidden)


def _solve(nb: dict, grade_ids: set[str], answers: dict[str, str]) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if _meta(cell).get("grade_id") in grade_ids:
            cell["source"] = answers[_meta(cell)["grade_id"]]
    return nb


def _cell(nb: dict, grade_id: str) -> str:
    return next(c["source"] for c in nb["cells"] if _meta(c).get("grade_id") == grade_id)


@pytest.fixture(scope="module")
def classroom():
    """Play the assignment once (accounts, Hub, release, work, collect, grade, feedback); the tests read the record."""
    problem = missing_requirements()
    if problem:
        _missing(problem)
    tag = secrets.token_hex(2)  # fresh account names each run
    names = {role: f"cvae{tag}-{role}" for role in ("instructor", *LEARNERS)}
    record: dict = {"names": names, "timings": {}, "hidden": _hidden_lines()}
    clock = _Clock(record["timings"])
    with (
        private_folder("cvae-course-hub-") as hub_dir,
        private_folder("cvae-course-class-") as shared,
        system_users(list(names.values())) as accounts,
    ):
        people = {role: accounts[name] for role, name in names.items()}
        exchange, etc, course = _prepare_machine(shared, people["instructor"])
        record.update(people=people, hub_dir=hub_dir, exchange=exchange, course=course)
        environment = {
            "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
            "CVAE_COURSE_FAST": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        if os.environ.get("CVAE_COURSE_MNIST"):
            environment["CVAE_COURSE_MNIST"] = os.environ["CVAE_COURSE_MNIST"]
        hub_config = HUB_ROLES.format(instructor=people["instructor"].name, etc=etc)
        clock.lap("accounts and files")

        with running_hub(hub_dir, list(names.values()), environment, hub_config) as hub:
            record["logins"] = {role: hub.login(p.name, p.password).status_code for role, p in people.items()}
            record["wrong_login"] = hub.login(people["alice"].name, "not-" + people["alice"].password).status_code
            servers = {role: hub.start_server(p.name, hub.token_for(p.name)) for role, p in people.items()}
            teacher = servers["instructor"]
            record["formgrader_status"] = {
                r: s.request("GET", "/formgrader/api/status").status_code for r, s in servers.items()
            }
            record["disabled"] = {r: _disabled_extensions(s.request("GET", "/lab").text) for r, s in servers.items()}
            record["cross_status"] = (
                _as(servers["alice"], people["bob"].name).request("GET", "/api/contents").status_code
            )
            clock.lap("Hub, logins, three servers")

            # 1. the instructor releases from Formgrader
            record["generated"] = teacher.formgrader(AE, "assign")
            record["released"] = teacher.formgrader(AE, "release")
            # 2. each learner fetches, works, runs cells and submits from their own server
            answers = _answers()
            for key in ("listed", "fetched", "kernel_runs", "submitted"):
                record[key] = {}
            for role in LEARNERS:
                _learner_works(servers[role], role, answers, record)
            clock.lap("release, fetch, work, submit")

            # 3. the instructor collects (Formgrader), then grades and releases the feedback in a terminal, whose
            # Jupyter settings are those the Hub gave the instructor's server (with CourseDirectory.root)
            record["collected"] = teacher.formgrader(AE, "collect")
            record["before_grading"] = _snapshot(course)
            terminal = {
                "CVAE_COURSE_MNIST": environment.get("CVAE_COURSE_MNIST", ""),
                "JUPYTER_CONFIG_PATH": f"{etc}/instructor:{etc}/everyone",
            }
            record["graded"] = run_as(
                people["instructor"],
                [BIN / "cvae-course", "grade", "submitted", "--out", "graded", "--notebook", AE, "-j", "2"],
                cwd=course,
                env=terminal,
            )
            record["after_grading"] = _snapshot(course)
            clock.lap("cvae-course grade")
            record["feedback_released"] = run_as(
                people["instructor"],
                [BIN / "nbgrader", "release_feedback", AE, "--CourseDirectory.root=graded"],
                cwd=course,
                env=terminal,
            )
            # 4. each learner fetches their feedback from the Assignments tab and opens it
            record["feedback"] = {role: _fetch_feedback(servers[role]) for role in LEARNERS}
            clock.lap("feedback")

            # what each learner can find by listing folders, and open when they know the exact path
            roots = [p.home for p in people.values()] + [exchange, hub_dir, shared]
            all_files = sorted({p for root in roots for p in root.rglob("*") if p.is_file()})
            record["findable"] = {role: readable_files(people[role], roots) for role in LEARNERS}
            record["openable"] = {role: opens(people[role], all_files) for role in LEARNERS}
            record["exchange_modes"] = {
                str(p.relative_to(exchange)): oct(p.stat().st_mode & 0o7777)
                for p in [exchange, *sorted(exchange.rglob("*"))]
            }
            clock.lap("permission scan")
            record["hub_log"] = hub.log_tail(400)

        grades_csv = course / "graded" / "grades.csv"
        record["grades"] = (
            {(r["student_id"], r["notebook"]): r for r in grading.read_csv(grades_csv)} if grades_csv.exists() else {}
        )
        record["secrets"] = {
            s.name: (s / AE / "submission_secret.txt").read_text().strip()
            for s in (course / "submitted").glob("*")
            if (s / AE).is_dir()
        }
        yield record
    clock.lap("cleanup")
    print("\nclassroom timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in record["timings"].items()))
    print("exchange modes: " + ", ".join(f"{k or '.'} {v}" for k, v in record.get("exchange_modes", {}).items()))


class _Clock:
    def __init__(self, laps: dict[str, float]):
        self.laps, self.start = laps, time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = now - self.start
        self.start = now


def _prepare_machine(shared: Path, instructor) -> tuple[Path, Path, Path]:
    """What the machine's admin does before term: the exchange, Jupyter settings per role, the instructor's course."""
    shared.chmod(0o755)
    exchange = shared / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # nbgrader's instructions: every account writes into the exchange
    etc = shared / "etc"
    _write_role_configs(etc, exchange)
    course = instructor.home / COURSE_ID
    (course / "source" / AE).mkdir(parents=True)
    shutil.copyfile(SOLUTIONS / f"{AE}.ipynb", course / "source" / AE / f"{AE}.ipynb")
    for item in [course, *course.rglob("*")]:
        os.chown(item, instructor.uid, instructor.gid)
    return exchange, etc, course


def _learner_works(server, role: str, answers: dict[str, str], record: dict) -> None:
    """Fetch from the Assignments tab, fill in answers (saved as JupyterLab saves), run cells, submit."""
    record["listed"][role] = server.assignments()
    server.assignments("fetch", AE)
    record["fetched"][role] = server.read_notebook(NOTEBOOK)
    work = _solve(record["fetched"][role], set(answers) if role == "alice" else BOB_SOLVES, answers)
    server.save_notebook(NOTEBOOK, work)
    record["kernel_runs"][role] = server.run_cells(
        [PROBE, _cell(work, "ae_setup"), _cell(work, "ae_encoder_answer"), _cell(work, "ae_encoder")]
    )
    record["submitted"][role] = server.assignments("submit", AE)


def _fetch_feedback(server) -> dict[str, str]:
    """Fetch feedback from the Assignments tab; the pages by submission time stamp (one folder per submission)."""
    server.assignments("fetch_feedback", AE)
    folder = f"{AE}/feedback"
    try:
        stamps = server.listing(folder)
    except RuntimeError as err:  # no feedback folder: the feedback test shows this with the Hub's log
        return {"(none)": str(err)}
    return {stamp: server.read_text(f"{folder}/{stamp}/{AE}.html") for stamp in stamps}


# The deployment's role switch (docs: instructors/jupyterhub.md): the Hub gives each server the Jupyter settings
# of its role, from a folder per role plus one for everyone, through JUPYTER_CONFIG_PATH.
HUB_ROLES = """
c.JupyterHub.load_groups = {{"instructors": {{"users": [{instructor!r}]}}}}

def course_settings(spawner):
    role = "instructor" if any(g.name == "instructors" for g in spawner.user.groups) else "learner"
    spawner.environment = {{**spawner.environment,
                           "JUPYTER_CONFIG_PATH": f"{etc}/{{role}}:{etc}/everyone"}}

c.Spawner.pre_spawn_hook = course_settings
"""


# What learners do not get (docs/instructors/learners.md): Formgrader, Create Assignment, the Validate button and
# the course list. They keep the Assignments tab (the only item left in the Nbgrader menu) to fetch and submit.
INSTRUCTOR_TOOLS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:validate-assignment",
    "@jupyter/nbgrader:course-list",
]
LEARNER_SERVER_OFF = ["formgrader", "validate_assignment", "course_list"]


def _write_role_configs(etc: Path, exchange: Path) -> None:
    """Settings for everyone (nbgrader's course and exchange), for learners (no instructor tools), for instructors."""
    files = {
        "everyone/nbgrader_config.py": (
            f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(exchange)!r}\n"
        ),
        "learner/jupyter_server_config.d/cvae-course-learner.json": json.dumps(
            {
                "ServerApp": {
                    "jpserver_extensions": {f"nbgrader.server_extensions.{name}": False for name in LEARNER_SERVER_OFF}
                }
            }
        ),
        "learner/labconfig/page_config.json": json.dumps(
            {"disabledExtensions": {name: True for name in INSTRUCTOR_TOOLS}}
        ),
        "instructor/nbgrader_config.py": (
            f"import os\nc = get_config()\nc.CourseDirectory.root = os.path.expanduser({'~/' + COURSE_ID!r})\n"
        ),
    }
    for name, text in files.items():
        path = etc / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for path in [etc, *etc.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _as(server: UserServer, other: str) -> UserServer:
    """The same token pointed at somebody else's server."""
    return UserServer(server.hub, other, server.token)


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------ accounts and tools
def test_every_account_logs_in_with_its_system_password_and_a_wrong_password_is_refused(classroom):
    assert classroom["logins"] == {"instructor": 302, "alice": 302, "bob": 302}
    assert classroom["wrong_login"] == 403


def test_learner_kernels_run_the_course_as_the_learner_with_the_instructors_python(classroom):
    for role in LEARNERS:
        probe = classroom["kernel_runs"][role][0]
        assert probe["error"] is None, probe
        seen = json.loads(probe["text"])
        assert (seen["version"], seen["base_prefix"]) == (sys.version, sys.base_prefix), (
            f"{role}'s kernel runs Python {seen['version']} from {seen['base_prefix']}, but the course's environment "
            f"was made from Python {sys.version} in {sys.base_prefix}: the learner's account cannot reach that "
            "interpreter (its shared library) and the loader fell back to another one. Make the interpreter's "
            "folders traversable by everyone (pyenv under /root: `chmod o+x /root`, as .ci/run does) or build "
            "the environment from a system-wide Python."
        )
        assert seen["uid"] == classroom["people"][role].uid and seen["cwd"] == str(classroom["people"][role].home)
        assert Path(seen["package"]).resolve() == Path(cvae_course.__file__).resolve()  # the same installation


def test_a_learner_sees_the_checks_verdict_in_their_own_kernel(classroom):
    for role in LEARNERS:
        setup, answer, check = classroom["kernel_runs"][role][1:]
        assert setup["error"] is None and answer["error"] is None, (setup, answer)
        assert check["error"] is None and "\u2714" in check["text"], check


def test_only_the_instructor_gets_formgrader_create_assignment_validate_and_the_course_list(classroom):
    assert classroom["formgrader_status"]["instructor"] == 200
    assert classroom["formgrader_status"]["alice"] == classroom["formgrader_status"]["bob"] == 404
    tools = set(INSTRUCTOR_TOOLS)
    assert tools & classroom["disabled"]["instructor"] == set()
    for role in LEARNERS:
        assert tools <= classroom["disabled"][role]


def _disabled_extensions(page: str) -> set[str]:
    """The lab extensions JupyterLab's page config disables (the page embeds its config as JSON)."""
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    if not match:
        return {"<no page config>"}
    disabled = json.loads(match.group(1)).get("disabledExtensions", [])
    return {k for k, v in disabled.items() if v} if isinstance(disabled, dict) else set(disabled)


def test_a_learners_token_does_not_open_another_learners_server(classroom):
    assert classroom["cross_status"] == 403


# ------------------------------------------------------------------------------------ the assignment loop
def test_the_instructor_generates_and_releases_from_formgrader(classroom):
    assert classroom["generated"]["success"], classroom["generated"]
    assert classroom["released"]["success"], classroom["released"]


def test_learners_see_the_released_assignment_and_fetch_it_without_solutions_or_hidden_tests(classroom):
    for role in LEARNERS:
        listed = classroom["listed"][role]
        assert listed["success"] and [a["assignment_id"] for a in listed["value"]] == [AE], listed
        nb = classroom["fetched"][role]
        text = "\n".join(c["source"] for c in nb["cells"])
        assert "raise NotImplementedError()" in text and "### BEGIN SOLUTION" not in text
        assert _contains_hidden_tests(text, classroom["hidden"]) == []


def test_every_learner_submits_and_the_instructor_collects_one_submission_each(classroom):
    for role in LEARNERS:
        assert classroom["submitted"][role]["success"], classroom["submitted"][role]
    assert classroom["collected"]["success"], classroom["collected"]
    submitted = classroom["course"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(classroom["names"][r] for r in LEARNERS)
    for role in LEARNERS:
        folder = submitted / classroom["names"][role] / AE
        assert sorted(p.name for p in folder.iterdir()) == [f"{AE}.ipynb", "submission_secret.txt", "timestamp.txt"]


def test_grades_match_what_each_learner_solved(classroom):
    assert classroom["graded"].returncode == 0, classroom["graded"].stderr
    for role in LEARNERS:
        row = classroom["grades"][(classroom["names"][role], AE)]
        points = {task: float(row[task]) for task in EXPECTED[role]}
        assert (row["status"], points) == ("graded", EXPECTED[role]), row["reason"]
        assert float(row["score"]) == sum(EXPECTED[role].values()) and row["max_score"] == "10"
        assert row["submitted_at"].endswith("UTC")  # nbgrader's timestamp of the submission graded


def test_grading_leaves_the_instructors_nbgrader_course_alone(classroom):
    before, after = classroom["before_grading"], classroom["after_grading"]
    changed = sorted(k for k in after if not k.startswith("graded/") and before.get(k) != after[k])
    assert changed == [], f"cvae-course grade wrote into the instructor's course folder: {changed}"


def test_each_learner_fetches_exactly_one_feedback_page_with_their_own_score(classroom):
    released = classroom["feedback_released"]
    assert released.returncode == 0, released.stdout + released.stderr
    for role in LEARNERS:
        pages = classroom["feedback"][role]
        assert len(pages) == 1 and "(none)" not in pages, (pages, classroom["hub_log"][-6000:])
        (page,) = pages.values()
        score = sum(EXPECTED[role].values())
        assert re.search(rf"Score:\s*{score}(\.0)?\s*/\s*10", visible_text(page)), visible_text(page)[:600]


def test_no_feedback_page_shows_hidden_test_source(classroom):
    for role in LEARNERS:
        for page in classroom["feedback"][role].values():
            assert "checks.check_encoder(build_encoder)" in visible_text(page)  # the search sees test code
            assert _contains_hidden_tests(page, classroom["hidden"]) == []


# ------------------------------------------------------------------------------------ permissions
def _forbidden_for(classroom, role: str, path: Path) -> str | None:
    """Why ``role`` must not read ``path``, or None."""
    me = classroom["people"][role]
    if classroom["hub_dir"] in path.parents:
        return "the Hub's own files (cookie secret, tokens)"
    for other, account in classroom["people"].items():
        if other != role and account.home in path.parents:
            return f"{other}'s home"
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    if _contains_hidden_tests(text, classroom["hidden"]):
        return "hidden tests"
    for student, secret in classroom["secrets"].items():
        if student != me.name and secret.strip() and secret.strip() in text:
            return f"{student}'s submission secret"
    inbound = classroom["exchange"] / COURSE_ID / "inbound"
    if inbound in path.parents and not path.relative_to(inbound).parts[0].startswith(me.name + "+"):
        return "another learner's submission"
    return None


def test_no_learner_can_find_another_persons_work_or_any_hidden_test(classroom):
    released = classroom["exchange"] / COURSE_ID / "outbound" / AE / f"{AE}.ipynb"
    for role in LEARNERS:
        findable = classroom["findable"][role]
        assert {released, classroom["people"][role].home / NOTEBOOK} <= set(findable)  # the scan sees files
        bad = {str(p): why for p in findable if (why := _forbidden_for(classroom, role, p))}
        assert bad == {}


def test_homes_the_course_folder_and_the_hub_stay_closed_even_to_a_learner_who_knows_the_path(classroom):
    private = [classroom["hub_dir"]] + [p.home for r, p in classroom["people"].items()]
    for role in LEARNERS:
        mine = classroom["people"][role].home
        leaked = [
            str(p)
            for p in classroom["openable"][role]
            if any(root in p.parents for root in private) and mine not in p.parents
        ]
        assert leaked == []


def test_nbgraders_inbound_and_feedback_folders_are_not_listable_by_learners(classroom):
    course = classroom["exchange"] / COURSE_ID
    for sub in ("inbound", "feedback"):
        mode = (course / sub).stat().st_mode & 0o777
        assert mode & 0o004 == 0, f"{sub} is world-listable ({oct(mode)})"
