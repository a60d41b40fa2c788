"""The retry schedule of subscription notifications (SPEC §4 "Subscriptions")."""

from __future__ import annotations

from datetime import timedelta

from fhir_server.subscriptions.schedule import RetryPolicy

S = timedelta(seconds=1)


def test_waits_double_from_one_second():
    policy = RetryPolicy()
    assert [policy.wait(n, timedelta(0)) for n in range(1, 7)] == [1 * S, 2 * S, 4 * S, 8 * S, 16 * S, 32 * S]


def test_capped_at_a_minute_during_the_first_hour():
    policy = RetryPolicy()
    assert policy.wait(7, timedelta(minutes=2)) == 60 * S
    assert policy.wait(40, timedelta(minutes=59)) == 60 * S


def test_longer_waits_after_the_first_hour_but_capped():
    policy = RetryPolicy()
    assert policy.wait(12, timedelta(hours=2)) == timedelta(minutes=15)


def test_gives_up_after_the_period():
    policy = RetryPolicy()
    assert not policy.gives_up(timedelta(hours=23, minutes=59))
    assert policy.gives_up(timedelta(hours=24))
    assert RetryPolicy.of_hours(0.5).gives_up(timedelta(minutes=30))


def test_a_receiver_back_within_the_first_hour_is_served_within_a_minute():
    """Simulate a subscriber down for 40 minutes: the attempt after it comes back is ≤ 60 s later."""
    policy, failing, attempts = RetryPolicy(), timedelta(0), 0
    back = timedelta(minutes=40)
    while failing < back:
        attempts += 1
        failing += policy.wait(attempts, failing)
    assert failing - back <= timedelta(minutes=1)
