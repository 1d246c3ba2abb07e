"""Draw a digit's page module (static/draw.js) in Node, against a fake page and model (draw_page.mjs): the races
between the kernel's readings, the page's strokes and drawings set from Python, replayed in chosen orders.

The browser test (tests/browser) checks the real page in JupyterLab; these replay orders a real page only meets by
chance: the same reading twice before it is decoded, a Python drawing racing a stroke, 30 strokes before a clear,
the current reading pushed out of the kept ones while it decodes, a reading decoding when the view is removed.
Needs Node (``node`` on PATH; CI has it, for the Hub's proxy): skipped without it, except in CI (CI=true).
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cvae_course.playground import draw

HARNESS = Path(__file__).with_name("draw_page.mjs")
# the readings a view keeps besides the empty pad's, as draw.js says
KEPT = int(re.search(r"^const KEPT = (\d+);", (draw.STATIC / "draw.js").read_text(), re.MULTILINE).group(1))


@pytest.fixture(scope="module")
def seen(tmp_path_factory) -> dict:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the draw page's Node tests: install Node (.ci/run needs it for npm).")
        pytest.skip("the draw page's tests need Node (`node` on PATH)")
    module = tmp_path_factory.mktemp("draw") / "draw.mjs"  # an ES module by its name
    module.write_text(draw.DrawPad._esm)  # draw.js with kernel.js in front, as the page gets it
    command = [node, str(HARNESS), str(module), str(KEPT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
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


def test_a_stroke_read_after_a_python_drawing_makes_the_page_send_the_drawing_it_shows_again(seen):
    race = seen["python_races_a_stroke"]
    assert (race["shown"]["summary"], race["shown"]["strokes"]) == ("PY", "1")  # Python's drawing is current
    # the kernel read the page's stroke after Python's drawing: the page sent the drawing it shows again
    assert race["resent"] and race["kernel"] == race["page"] == [[[0.9, 0.9]]]
    assert race["after"] == race["shown"]  # the kernel's answer to it is the reading on screen: nothing repainted


def test_a_stroke_racing_a_python_drawing_keeps_each_reading_under_the_drawing_it_answers(seen):
    race = seen["python_races_a_stroke"]
    # the page's two-stroke drawing, read by the kernel after Python's: undo back to it shows its own reading
    assert (race["undo"]["summary"], race["undo"]["shown"], race["undo"]["strokes"]) == ("PQ", "kept", "2")
    prefixes = {revision.rsplit("-", 1)[0] for revision in race["revisions"]}
    assert len(prefixes) == 1 and prefixes != {"py"}


def test_a_reading_of_the_drawing_an_undo_went_back_to_is_shown_when_it_comes(seen):
    before, after = seen["undo_before_readings"]["before"], seen["undo_before_readings"]["after"]
    assert before["summary"] == "empty"  # undo before the first stroke's reading came: nothing kept to show yet
    assert (after["summary"], after["shown"], after["reading"]) == ("s1", "kernel", "2")


def test_the_current_reading_pushed_out_of_the_kept_ones_while_it_decodes_is_still_shown(seen):
    # delivered, then KEPT readings of older drawings of the view before it decoded: it is no longer kept
    assert seen["current_pushed_out_while_decoding"] == {
        "summary": "current", "shown": "kernel", "reading": "2", "revoked": False, "strokes": str(KEPT + 1)
    }  # fmt: skip


def test_a_reading_still_decoding_when_the_view_is_removed_is_never_shown_and_its_pictures_are_revoked(seen):
    assert seen["decoding_at_cleanup"] == {"summary": "empty", "live": 0}


def test_strokes_and_undos_never_show_a_revoked_picture_and_keep_a_bounded_number_of_urls(seen):
    # 200 strokes and undos with readings (some twice): KEPT readings and the empty pad's, two URLs each
    assert seen["many"] == {"maxLive": 2 * (KEPT + 1), "revoked": 0, "liveAfterCleanup": 0}
