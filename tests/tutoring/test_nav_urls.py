"""The navigation's links and the static files' URLs are worked out once per process
(tutoring/templatetags/nav.py, tutoring/static_storage.py) and are what Django's tags give."""

import re

from django.contrib.staticfiles.storage import StaticFilesStorage
from django.template import engines
from django.urls import reverse, set_script_prefix

from tutoring.static_storage import Development

BASE = engines["django"].get_template("base.html").template.source


def render(text: str) -> str:
    return engines["django"].from_string("{% load nav %}" + text).render({})


def test_every_link_of_the_navigation_is_the_url_tags():
    names = re.findall(r"\{% nav_url '([a-z_-]+)' %\}", BASE)
    assert len(names) == 6 and "{% url " not in BASE
    for name in names:
        assert render(f"{{% nav_url '{name}' %}}") == render(f"{{% url '{name}' %}}") == reverse(name)


def test_a_script_prefix_is_kept_per_prefix():
    try:
        set_script_prefix("/tutoring/")
        assert render("{% nav_url 'notifications' %}") == "/tutoring/notifications/"
    finally:
        set_script_prefix("/")
    assert render("{% nav_url 'notifications' %}") == "/notifications/"


def test_a_static_files_url_is_djangos():
    storage = Development()
    for name in ("css/site.css", "vendor/htmx.min.js", "a name/with spaces?.css"):
        assert storage.url(name) == storage.url(name) == StaticFilesStorage().url(name)
