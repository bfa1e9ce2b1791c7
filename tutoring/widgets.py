"""A form renderer that writes Django's plain <input> widgets (text, search, date, hidden,
checkbox, ...) in Python instead of through their templates.

Django renders every widget through the template engine: input.html, which includes attrs.html,
which loops over the attributes; on the creator's Session History the filter form's five inputs
cost about as much as the rest of its template. InputRenderer writes the same markup that those
templates write (same attribute order, same escaping, `True` as a bare attribute, `False` left
out, no value attribute for None) and leaves every other template to Django. It only does so while
the templates it stands for are Django's own files with the text it was written from
(INPUT_TEXT, ATTRS_TEXT: a Django upgrade that changes them turns it off) and the project keeps
Django's default FORM_RENDERER (one of its own renders everything, this form's inputs too)."""

import html
from pathlib import Path

from django.conf import settings
from django.forms import renderers
from django.utils.functional import cached_property
from django.utils.safestring import SafeData

DJANGO_FORMS = Path(renderers.__file__).resolve().parent / "templates"
INPUT = "django/forms/widgets/input.html"
ATTRS = "django/forms/widgets/attrs.html"
# the two templates as Django 6.1 ships them, which input_html writes
INPUT_TEXT = ('<input type="{{ widget.type }}" name="{{ widget.name }}"{% if widget.value != None %} '
              'value="{{ widget.value|stringformat:\'s\' }}"{% endif %}{% include "django/forms/widgets/attrs.html" %}>\n')
ATTRS_TEXT = ("{% for name, value in widget.attrs.items %}{% if value is not False %} {{ name }}"
              "{% if value is not True %}=\"{{ value|stringformat:'s' }}\"{% endif %}{% endif %}{% endfor %}")
DEFAULT_RENDERER = "django.forms.renderers.DjangoTemplates"
# the widget templates that are nothing but {% include "django/forms/widgets/input.html" %}
INPUT_TEMPLATES = frozenset(f"django/forms/widgets/{name}.html" for name in (
    "input", "text", "search", "date", "time", "datetime", "hidden", "checkbox", "number", "email", "url",
    "password", "tel", "color"))


def _text(value) -> str:
    """A value as {{ value|stringformat:'s' }} shows it: safe text as it is, the rest escaped."""
    return str(value) if isinstance(value, SafeData) else html.escape(str(value))


def input_html(widget: dict) -> str:
    """django/forms/widgets/input.html with attrs.html, for a widget's context."""
    parts = [f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"']
    if widget["value"] is not None:
        parts.append(f' value="{_text(widget["value"])}"')
    for name, value in widget["attrs"].items():
        if value is False:
            continue
        parts.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_text(value)}"')
    parts.append(">")
    return "".join(parts)


class InputRenderer(renderers.DjangoTemplates):
    @cached_property
    def _own_inputs(self) -> frozenset[str]:
        """The input templates to write in Python: those that Django's own files still provide
        (with input.html and attrs.html themselves, as INPUT_TEXT and ATTRS_TEXT); none when
        either of those is another file or text, or the project has a FORM_RENDERER of its own."""
        def django_file(name):
            return Path(self.get_template(name).origin.name).resolve() == DJANGO_FORMS / name

        if settings.FORM_RENDERER != DEFAULT_RENDERER or not (django_file(INPUT) and django_file(ATTRS)):
            return frozenset()
        if ((DJANGO_FORMS / INPUT).read_text() != INPUT_TEXT
                or (DJANGO_FORMS / ATTRS).read_text() != ATTRS_TEXT):
            return frozenset()
        return frozenset(name for name in INPUT_TEMPLATES if django_file(name))

    def render(self, template_name, context, request=None):
        if template_name in self._own_inputs:
            return input_html(context["widget"])
        if settings.FORM_RENDERER != DEFAULT_RENDERER:  # the project's renderer, for this form too
            return renderers.get_default_renderer().render(template_name, context, request=request)
        return super().render(template_name, context, request=request)


RENDERER = InputRenderer()  # one for the process: a renderer holds its own template engine
