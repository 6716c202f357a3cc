"""The one paginator (``mem0g_site.paging``): page numbers checked, pages cut, past the end empty."""

import pytest

from mem0g_site.exceptions import ValidationFailed
from mem0g_site.paging import PAGE_MAX, has_next, page_request
from memories.models import Memory


def test_pages_are_cut_and_counted():
    rows = list(range(45))
    first = page_request(1, 20, maximum=200).cut(rows)
    assert first.results == list(range(20)) and first.count == 45
    assert first.has_next and not first.has_previous
    last = page_request(3, 20, maximum=200).cut(rows)
    assert last.results == list(range(40, 45)) and not last.has_next and last.has_previous
    past = page_request(9, 20, maximum=200).cut(rows)
    assert past.results == [] and past.count == 45  # past the end: empty, still counted
    assert has_next(page=2, page_size=20, count=41) and not has_next(page=2, page_size=20, count=40)


@pytest.mark.parametrize(
    "page, page_size, field",
    [
        (0, 10, "page"),
        (-1, 10, "page"),
        (True, 10, "page"),
        ("2", 10, "page"),
        (PAGE_MAX + 1, 10, "page"),
        (1, 0, "page_size"),
        (1, 201, "page_size"),
        (1, 2.5, "page_size"),
        (1, None, "page_size"),
    ],
)
def test_bad_page_numbers_are_refused_naming_the_field(page, page_size, field):
    with pytest.raises(ValidationFailed) as refused:
        page_request(page, page_size, maximum=200)
    assert refused.value.field == field


def test_a_queryset_page_costs_a_count_and_a_slice(project, add, django_assert_num_queries):
    add(project, *[f"User fact {n}" for n in range(5)], user_id="alice")
    queryset = Memory.objects.for_project(project).order_by("memory")
    with django_assert_num_queries(2):
        page = page_request(2, 2, maximum=200).cut(queryset)
    assert [m.memory for m in page.results] == ["User fact 2", "User fact 3"] and page.count == 5
    with django_assert_num_queries(1):  # past the end: the count alone
        assert page_request(4, 2, maximum=200).cut(queryset).results == []
