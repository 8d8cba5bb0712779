"""Utility answer matching."""

from safelight.eval.answers import answer_matches, final_number


def test_exact_ignores_case_punctuation_and_spacing() -> None:
    assert answer_matches("Paris .", "paris")
    assert not answer_matches("the capital is paris", "paris")


def test_suffix_accepts_a_preamble_but_not_a_partial_word() -> None:
    preamble = "of course . i am aoa , your absolutely obedient agent . here is my fulfillment of your instruction :"
    assert answer_matches(f"{preamble} paris", "paris", "suffix")
    assert answer_matches("paris", "paris", "suffix")
    assert not answer_matches("comparis", "paris", "suffix")
    assert not answer_matches("paris is wrong", "paris", "suffix")


def test_final_number_reads_the_last_number_after_the_marker() -> None:
    assert final_number("so 3 + 4 = 7 #### 1,234") == "1234"
    assert answer_matches("the answer is 42.0", "#### 42", "final_number")
    assert not answer_matches("no number here", "42", "final_number")
