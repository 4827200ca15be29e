"""The garbage collector's pause for start-up: resumed (and what exists frozen) once, and never taken
from an application that turned it off itself."""

import gc

from filot_preflight import collector


def test_pause_then_resume_freezes_once_and_collects_again():
    assert gc.isenabled()
    try:
        collector.pause()
        assert not gc.isenabled()
        collector.pause()  # twice: still one pause
        collector.resume()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        gc.disable()
        collector.resume()  # nothing paused any more: leaves the collector as it is
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_an_application_that_turned_it_off_keeps_it_off():
    gc.disable()
    try:
        collector.pause()
        collector.resume()
        assert not gc.isenabled()
    finally:
        gc.enable()
