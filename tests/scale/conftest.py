import pytest
from django.urls import reverse
from django.utils import translation


@pytest.fixture(params=["en", "de"])
def page_language(request):
    """A query budget holds on the English and on the German pages alike: inside the test, reverse() (and so
    get_absolute_url()) gives this language's prefix."""
    with translation.override(request.param):
        assert reverse("shop:product_list") == f"/{request.param}/"
        yield request.param
