"""The citation guard over a bag-of-words fake embedder: identical wording is full support."""

from rag.guard import Guard, GuardEvidence, GuardPolicy, GuardProblem, hard_facts, negations, numbers, split_claims
from tests.fakes import HashEmbedder

EVIDENCE = (
    GuardEvidence(1, "refund", "Pro Annual plans can be refunded in full within 30 days of purchase."),
    GuardEvidence(2, "battery", "The hub battery is replaced by our support team within 5 business days."),
)


def problems(answer: str) -> list[GuardProblem | None]:
    return [v.problem for v in Guard(HashEmbedder(), GuardPolicy(support_threshold=0.8)).check(answer, EVIDENCE)]


def test_claims_keep_their_markers_and_short_answers_are_checked_too() -> None:
    assert split_claims("It works. [1] No. It does not [2]. Tiny [1]") == [
        ("It works. [1]", "It works.", (1,)),
        ("No. It does not [2].", "No. It does not.", (2,)),  # a bare answer word goes with the next sentence
        ("Tiny [1]", "Tiny", (1,)),
    ]
    assert [c[1] for c in split_claims("Sim.")] == ["Sim."]


def test_numbers_compare_by_value_and_codes_are_facts() -> None:
    assert numbers("1,5 kg, 1.50 m, 5,000 rows, 5.000 satır, 030") == {"1.5", "5000", "30"}
    assert hard_facts("Error E-4012 after 3 tries") == {"3", "4012", "e-4012"}
    assert negations("No. The hub is ready") == 0
    assert negations("The hub is not ready and never was") == 2
    assert negations("Hub không sẵn sàng") == 1


def test_a_faithful_sentence_passes_and_every_defect_is_named() -> None:
    assert problems("Pro Annual plans can be refunded in full within 30 days of purchase. [1]") == [None]
    assert problems("Pro Annual plans can be refunded in full within 30 days of purchase.") == [
        GuardProblem.NO_CITATION
    ]
    assert problems("Pro Annual plans can be refunded in full within 30 days of purchase. [7]") == [
        GuardProblem.UNKNOWN_CITATION
    ]
    assert problems("Pro Annual plans can be refunded in full within 45 days of purchase. [1]") == [
        GuardProblem.UNSUPPORTED_FACT
    ]
    assert problems("The hub battery is replaced by our support team within 5 business days. [1]") == [
        GuardProblem.UNSUPPORTED_FACT  # "5" is in [2], not in the cited [1]
    ]
    assert problems("The hub battery is replaced by our support team within business days. [1]") == [
        GuardProblem.WRONG_CITATION
    ]
    assert problems("Pro Annual plans can not be refunded in full within 30 days of purchase. [1]") == [
        GuardProblem.NEGATION
    ]
    assert problems("Customers love purple unicorns on Fridays. [1]") == [GuardProblem.UNSUPPORTED]


def test_each_sentence_is_judged_on_its_own() -> None:
    answer = (
        "Pro Annual plans can be refunded in full within 30 days of purchase. [1] "
        "The hub battery is replaced by our support team within 5 business days. [2] "
        "Refunds are paid in gold bars. [1]"
    )
    assert problems(answer) == [None, None, GuardProblem.UNSUPPORTED]
