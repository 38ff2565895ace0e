from rag.answering.sentences import split_sentences

BODY = """# Refunds
Pro Annual plans can be refunded in full within 30 days of purchase. After day 30, e.g. on day 31, no refund is given!
Refund requests go through Billing.

- Open the Billing page in the admin console.
- Click Refund and confirm the amount.

```
curl https://api.orbita.example/refunds
```

Повернення коштів можливе протягом 30 днів. Після цього гроші не повертаються.
Hoàn tiền trong vòng 30 ngày kể từ ngày mua. Đơn hàng được giao trong 3 ngày làm việc.
İade talepleri 30 gün içinde yapılmalıdır. Öğleden sonra gelen talepler ertesi gün işlenir.
"""


def test_sentences_are_split_in_many_languages_and_kept_verbatim() -> None:
    sentences = split_sentences(BODY)
    assert sentences == [
        "Pro Annual plans can be refunded in full within 30 days of purchase.",
        "After day 30, e.g. on day 31, no refund is given!",
        "Refund requests go through Billing.",
        "Open the Billing page in the admin console.",
        "Click Refund and confirm the amount.",
        "Повернення коштів можливе протягом 30 днів.",
        "Після цього гроші не повертаються.",
        "Hoàn tiền trong vòng 30 ngày kể từ ngày mua.",
        "Đơn hàng được giao trong 3 ngày làm việc.",
        "İade talepleri 30 gün içinde yapılmalıdır.",
        "Öğleden sonra gelen talepler ertesi gün işlenir.",
    ]


def test_every_sentence_is_a_substring_of_the_body_up_to_line_breaks() -> None:
    flat = " ".join(BODY.split())
    for sentence in split_sentences(BODY):
        assert sentence in flat


def test_headings_and_code_are_not_sentences() -> None:
    sentences = split_sentences(BODY)
    assert not any("curl" in s or s.startswith("#") for s in sentences)
