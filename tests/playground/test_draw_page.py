"""Draw a digit's page module (static/draw.js) in Node, against a fake page and model (draw_page.mjs): the races
between the kernel's readings, the page's strokes and drawings set from Python, replayed in chosen orders.

The browser test (tests/browser) checks the real page in JupyterLab; these replay orders a real page only meets by
chance: the same reading twice before it is decoded, a Python drawing racing a stroke, 30 strokes before a clear.
Needs Node (``node`` on PATH; CI has it, for the Hub's proxy): skipped without it, except in CI (CI=true).
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cvae_course.playground import draw

HARNESS = Path(__file__).with_name("draw_page.mjs")


@pytest.fixture(scope="module")
def seen(tmp_path_factory) -> dict:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the draw page's Node tests: install Node (.ci/run needs it for npm).")
        pytest.skip("the draw page's tests need Node (`node` on PATH)")
    module = tmp_path_factory.mktemp("draw") / "draw.mjs"  # an ES module by its name
    module.write_text((draw.STATIC / "draw.js").read_text())
    done = subprocess.run([node, str(HARNESS), str(module)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_same_reading_twice_before_it_is_decoded_is_shown_once_with_live_pictures(seen):
    # a second view's refresh answered with the revision of a reading still decoding: its blob URLs stay live
    assert seen["same_reading_twice"] == {
        "summary": "one", "shown": "kernel", "reading": "2", "revoked": False, "strokes": "1"
    }  # fmt: skip


def test_clear_shows_the_empty_pads_kept_reading_after_more_strokes_than_the_page_keeps(seen):
    after = seen["clear_after_30_strokes"]
    assert (after["summary"], after["shown"], after["revoked"]) == ("empty", "kept", False)


def test_a_view_opened_after_a_python_drawing_clears_at_once_to_the_empty_reading_of_its_first_answer(seen):
    before, after = seen["refresh_then_clear"]["before"], seen["refresh_then_clear"]["after"]
    assert (before["summary"], before["shown"]) == ("one", "kernel")
    assert (after["summary"], after["shown"], after["strokes"], after["revoked"]) == ("empty", "kept", "0", False)


def test_a_stroke_racing_a_python_drawing_keeps_each_reading_under_the_drawing_it_answers(seen):
    race = seen["python_races_a_stroke"]
    assert (race["shown"]["summary"], race["shown"]["strokes"]) == ("PY", "1")  # Python's drawing is current
    # the page's two-stroke drawing, read by the kernel after Python's: undo back to it shows its own reading
    assert (race["undo"]["summary"], race["undo"]["shown"], race["undo"]["strokes"]) == ("PQ", "kept", "2")
    prefixes = {revision.rsplit("-", 1)[0] for revision in race["revisions"]}
    assert len(prefixes) == 1 and prefixes != {"py"}


def test_a_reading_of_the_drawing_an_undo_went_back_to_is_shown_when_it_comes(seen):
    before, after = seen["undo_before_readings"]["before"], seen["undo_before_readings"]["after"]
    assert before["summary"] == "empty"  # undo before the first stroke's reading came: nothing kept to show yet
    assert (after["summary"], after["shown"], after["reading"]) == ("s1", "kernel", "2")


def test_strokes_and_undos_never_show_a_revoked_picture_and_keep_a_bounded_number_of_urls(seen):
    # 200 strokes and undos with readings (some twice): 20 kept readings and the empty pad's, two URLs each
    assert seen["many"] == {"maxLive": 2 * 21, "revoked": 0, "liveAfterCleanup": 0}
