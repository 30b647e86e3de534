"""The search rules (app.domain.search): what a query means, trigram comparison as pg_trgm does it (the
expected figures are PostgreSQL's own `similarity` / `word_similarity` for the same strings), phone
digits, scores and the order of hits."""

import pytest

from app.domain.errors import ValidationFailed
from app.domain.search import (
    DEFAULT_FIRST,
    SearchType,
    best_field,
    field_matches,
    normalize,
    parse_query,
    phone_digits_of_query,
    phone_score,
    query_words,
    rank_key,
    similarity,
    text_score,
    trigrams,
    word_matches,
    word_similarity,
    words,
)


def test_queries_are_trimmed_lower_cased_and_their_spaces_collapsed():
    assert normalize("  Bagel   BARN\t") == "bagel barn"
    q = parse_query("  Jon  Smith ", None, None)
    assert q.text == "jon smith" and q.first == DEFAULT_FIRST and q.types == tuple(SearchType)
    assert parse_query("bagel", 5, [SearchType.PRODUCT, SearchType.ACCOUNT]).types == (SearchType.ACCOUNT, SearchType.PRODUCT)


@pytest.mark.parametrize("query, first, field", [
    (" a ", None, "query"), ("", None, "query"), ("x" * 201, None, "query"),
    ("bagel", 0, "first"), ("bagel", 101, "first"), ("bagel", -1, "first"),
])
def test_a_query_that_cannot_run_names_the_argument(query, first, field):
    with pytest.raises(ValidationFailed) as caught:
        parse_query(query, first, None)
    assert caught.value.errors[0].field == field


def test_limits_are_inclusive():
    assert parse_query("ab", 1, None).first == 1
    assert parse_query("x" * 200, 100, None).first == 100


def test_trigrams_are_pg_trgm_s():
    assert trigrams("Bag") == {"  b", " ba", "bag", "ag "}
    assert trigrams("o'Brien") == trigrams("o brien")  # punctuation separates words
    assert trigrams("--") == set()


@pytest.mark.parametrize("query, text, sim, word", [
    ("restaurnt", "restaurant row", 0.5, 0.7),
    ("jon smith", "john smith", 0.6154, 0.6154),
    ("bag", "bagel barn", 0.3, 0.75),
    ("word", "two words", 0.3636, 0.8),
    ("harbor grill", "harbor grill catering of the west side", 0.3333, 1.0),
    ("stakehouse", "steakhouse #12 — produce program", 0.1875, 0.375),
    ("ba", "bagel barn", 0.2, 0.6667),
])
def test_similarities_equal_postgresql_s(query, text, sim, word):
    assert similarity(query, text) == pytest.approx(sim, abs=1e-4)
    assert word_similarity(query, text) == pytest.approx(word, abs=1e-4)


def test_a_field_matches_when_every_query_word_matches_one_of_its_words():
    assert word_matches("bag", "bagel")            # a prefix
    assert word_matches("restaurnt", "restaurant")  # a near spelling (similarity 0.62)
    assert word_matches("stakehouse", "steakhouse")  # similarity 0.375
    assert word_matches("jon", "john")              # word similarity 0.5
    assert not word_matches("bag", "garbage")
    assert word_matches("co", "co") and word_matches("co", "cod") and not word_matches("co", "contract")
    assert word_matches("14", "140") and not word_matches("14", "14000")
    assert field_matches(words("harbr grill 4821"), "harbor grill #4821 — seafood trial")
    assert not field_matches(words("harbr grill 4821"), "harbor grill #73 — seafood trial")  # one word short
    assert not field_matches([], "harbor grill")


def test_only_the_first_eight_words_must_match():
    long_query = "harbor grill one two three four five six seven eight"
    assert query_words(long_query) == ["harbor", "grill", "one", "two", "three", "four", "five", "six"]
    assert text_score(long_query, "harbor grill one two three four five six") > 0
    assert text_score(long_query, "harbor grill one two three four five") == 0.0


def test_a_matching_field_scores_the_mean_of_the_whole_query_s_similarities():
    assert text_score("restaurnt", "restaurant row") == 0.6
    assert text_score("bagel barn", "bagel barn") == 1.0
    assert 0 < text_score("harbor grill", "harbor grill catering of the west side") < 1.0
    assert text_score("stakehouse", "steakhouse #12 — produce program") == 0.2813
    assert text_score("harbr grill 4821", "harbor grill #73") == 0.0
    assert text_score("bagel", None) == text_score("bagel", "") == 0.0


def test_a_phone_query_is_digits_and_punctuation_with_at_least_three_digits():
    assert phone_digits_of_query("555 0100") == "5550100"
    assert phone_digits_of_query("+1 (312) 555-0100") == "13125550100"
    assert phone_digits_of_query("55") == ""
    assert phone_digits_of_query("harbor 555") == ""


def test_phones_match_on_digits_and_an_exact_number_scores_one():
    assert phone_score("5550100", "(555) 010-0") == 1.0
    assert phone_score("0100", "(555) 010-0") == pytest.approx(0.7857)
    assert phone_score("5550100", "555-0199") == 0.0
    assert phone_score("", "(555) 010-0") == phone_score("555", None) == 0.0


def test_the_best_field_wins_and_no_field_means_no_hit():
    assert best_field({"name": 0.4, "email": 0.9, "phone": 0.0}) == ("email", 0.9)
    assert best_field({"name": 0.5, "sku": 0.5}) == ("name", 0.5)
    assert best_field({"name": 0.0}) is None


def test_hits_sort_by_score_then_type_then_id():
    hits = [(0.5, SearchType.PRODUCT, 1), (0.9, SearchType.OPPORTUNITY, 7), (0.9, SearchType.ACCOUNT, 9),
            (0.9, SearchType.ACCOUNT, 3)]
    assert sorted(hits, key=lambda h: rank_key(*h)) == [
        (0.9, SearchType.ACCOUNT, 3), (0.9, SearchType.ACCOUNT, 9), (0.9, SearchType.OPPORTUNITY, 7),
        (0.5, SearchType.PRODUCT, 1)]
