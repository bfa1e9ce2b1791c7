"""The word-break check every browser test's check_page runs (issue 10 item 2): it finds a word
wrapped inside itself and passes words that wrap between them."""

import pytest

from tests.browser.conftest import assert_no_word_breaks

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["phone"])
def test_a_word_broken_across_lines_is_found(page):
    page.set_content('<table><tr><th style="width:3ch;overflow-wrap:anywhere">Duration</th></tr></table>')
    with pytest.raises(AssertionError, match='(?s)text breaks inside a word:.*"Duration" in <th'):
        assert_no_word_breaks(page)


@pytest.mark.parametrize("viewport", ["phone"])
def test_words_that_wrap_between_them_pass(page):
    page.set_content('<table><tr><th style="width:9ch">Session duration rating</th></tr></table>')
    assert_no_word_breaks(page)
