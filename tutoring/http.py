"""Small HTTP answers every app's pages share."""

from django.shortcuts import redirect


def see_other(url: str):
    """A 303 after a POST: the browser GETs the page, so reload and back never post again."""
    response = redirect(url)
    response.status_code = 303
    return response
