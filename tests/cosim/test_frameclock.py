"""The frame clock's arithmetic against exact fractions, for rates and paces that do not divide 1e9."""
from fractions import Fraction

import pytest

from cosim.frameclock import FrameClock


@pytest.mark.parametrize("rate,mode,pace", [(90, "realtime", 1.0), (90, "lockstep", 0.5), (90, "lockstep", 2.0),
                                            (72, "lockstep", 1.0), (144, "lockstep", 3.0), (90, "realtime", 7.0)])
def test_times_are_the_exact_fraction_floored_and_events_land_in_their_frame(rate, mode, pace):
    clock = FrameClock(rate, mode, pace)
    speed = Fraction(1) if mode == "realtime" else Fraction(pace)
    for k in (0, 1, 2, 89, 90, 91, 324_000, 10**7 + 3):
        assert clock.t_ns(k) == (k * Fraction(10**9, rate) / speed).__floor__()
        assert clock.content_ns(k) == (k * Fraction(10**9, rate)).__floor__()
    for content in range(0, 50_000_000, 37_777):  # an event at this content time
        at = clock.session_of_content(content)
        k = clock.frame_at(at)
        assert clock.t_ns(k) >= at and (k == 0 or clock.t_ns(k - 1) < at)


def test_realtime_ignores_pace_and_unpaced_lockstep_has_no_schedule():
    assert FrameClock(90, "realtime", 0.0).t_ns(90) == 10**9
    unpaced = FrameClock(90, "lockstep", 0.0)
    assert unpaced.t_ns(5) is None and unpaced.frame_at(10) is None and unpaced.content_ns(90) == 10**9
    assert FrameClock(90).dt_ns == 11_111_111
    with pytest.raises(ValueError):
        FrameClock(0)
