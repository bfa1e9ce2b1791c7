"""tutoring/widgets.py: the inputs InputRenderer writes in Python are the markup Django's widget
templates write, and a project that overrides one of those templates gets its template."""

from datetime import date
from pathlib import Path

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.utils.functional import cached_property
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from creators.forms import HistoryFilterForm
from tutoring.widgets import DJANGO_FORMS, RENDERER, InputRenderer

DJANGO = DjangoTemplates()
HOSTILE = 'a"b\'c<d>&e'


class Everything(forms.Form):
    text = forms.CharField(max_length=10, widget=forms.TextInput(attrs={
        "placeholder": HOSTILE, "data-safe": mark_safe("<b>"), "data-lazy": gettext_lazy("Lazy"),
        "data-n": 7, "required": True, "hidden": False, "x\"y": "z"}))
    search = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "search"}))
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.TimeField(required=False)
    number = forms.IntegerField(required=False, min_value=1)
    decimal = forms.DecimalField(required=False)
    email = forms.EmailField(required=False)
    url = forms.URLField(required=False)
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=True))
    hidden = forms.CharField(required=False, widget=forms.HiddenInput)
    flag = forms.BooleanField(required=False)
    choice = forms.ChoiceField(choices=[("a", HOSTILE), ("b", "B")], required=False)
    many = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], required=False,
                                     widget=forms.CheckboxSelectMultiple)
    area = forms.CharField(required=False, widget=forms.Textarea)


DATA = [
    {},
    {"text": HOSTILE, "search": HOSTILE, "day": "2026-02-30", "when": "12:30", "number": "0", "decimal": "1.5",
     "email": "x", "url": HOSTILE, "password": HOSTILE, "hidden": HOSTILE, "flag": "on", "choice": "a",
     "many": ["a", "b"], "area": HOSTILE},
    {"text": "", "day": "2026-01-02", "number": "12", "flag": "", "hidden": ""},
]


def both(form_class, **kwargs):
    return [form_class(renderer=renderer, **kwargs) for renderer in (DJANGO, RENDERER)]


@pytest.mark.parametrize("data", DATA)
def test_every_field_renders_as_with_djangos_templates(data):
    for bound in (False, True):
        django, ours = both(Everything, data=QueryDict(mutable=True) if not data else _query(data)) if bound \
            else both(Everything, initial={"day": date(2026, 3, 4), "number": 5, "text": HOSTILE})
        for name in Everything.base_fields:
            assert str(ours[name]) == str(django[name]), name
        assert str(ours) == str(django)  # the whole form, labels and errors too


def _query(data) -> QueryDict:
    query = QueryDict(mutable=True)
    for key, value in data.items():
        query.setlist(key, value if isinstance(value, list) else [value])
    return query


def test_the_renderer_writes_the_inputs_itself():
    """It does not go through the template for the plain inputs (else this test proves nothing
    about speed), and still does for the others."""
    assert "django/forms/widgets/text.html" in RENDERER._own_inputs
    assert "django/forms/widgets/checkbox.html" in RENDERER._own_inputs
    assert "django/forms/widgets/select.html" not in RENDERER._own_inputs
    widget = {"type": "text", "name": "n", "value": None, "attrs": {"id": "i"}}
    assert (RENDERER.render("django/forms/widgets/text.html", {"widget": widget})
            == '<input type="text" name="n" id="i">')


@pytest.mark.parametrize("query", [
    "", "range=custom&from=2026-01-01&to=2025-01-01&student=a%22%3Cb%3E&low_rated=on&student_id=5",
    "from=x&to=2026-13-01&student_id=-1&course=9&st=abc&status=nope&range=week",
])
def test_the_history_filters_render_as_with_djangos_templates(query):
    courses, tutors = [(1, "Maths <1>")], [(7, 'Tia "T"'), (8, "Ben & co")]
    django, ours = (HistoryFilterForm(QueryDict(query), courses=courses, tutors=tutors, renderer=renderer)
                    for renderer in (DJANGO, RENDERER))
    assert ours.renderer is RENDERER and HistoryFilterForm(None, courses=[], tutors=[]).renderer is RENDERER
    for name in HistoryFilterForm.base_fields:
        assert str(ours[name]) == str(django[name]), name


def overriding(folder: Path, name: str, text: str):
    (folder / "django/forms/widgets").mkdir(parents=True, exist_ok=True)
    (folder / "django/forms/widgets" / name).write_text(text)

    class Overridden(InputRenderer):
        @cached_property
        def engine(self):
            return self.backend({"APP_DIRS": True, "DIRS": [folder, DJANGO_FORMS], "NAME": "overridden",
                                 "OPTIONS": {}})

    return Overridden()


def test_an_overridden_input_template_is_used(tmp_path):
    renderer = overriding(tmp_path, "text.html", '<input class="ours" name="{{ widget.name }}">')
    form = Everything(renderer=renderer)
    assert str(form["text"]) == '<input class="ours" name="text">'
    assert str(form["hidden"]) == str(Everything(renderer=DJANGO)["hidden"])  # still Django's own
    assert "django/forms/widgets/hidden.html" in renderer._own_inputs


def test_an_overridden_attrs_template_turns_the_shortcut_off(tmp_path):
    renderer = overriding(tmp_path, "attrs.html", " data-custom")
    assert renderer._own_inputs == frozenset()
    assert str(Everything(renderer=renderer)["hidden"]) == '<input type="hidden" name="hidden" data-custom>'


def test_the_shortcut_is_written_from_the_templates_this_django_ships():
    """input_html is written from Django's input.html and attrs.html as INPUT_TEXT and ATTRS_TEXT
    say; the renderer checks them when it starts and renders Django's templates again when they
    differ (this fails after a Django upgrade that changes them: read the new text, then update
    input_html and the two constants)."""
    from tutoring import widgets

    assert (DJANGO_FORMS / widgets.INPUT).read_text() == widgets.INPUT_TEXT
    assert (DJANGO_FORMS / widgets.ATTRS).read_text() == widgets.ATTRS_TEXT
    assert "django/forms/widgets/text.html" in InputRenderer()._own_inputs


class ProjectRenderer(DjangoTemplates):
    """A FORM_RENDERER of a project's own: Django's templates, each marked."""

    def render(self, template_name, context, request=None):
        return "<!--project-->" + super().render(template_name, context, request=request)


def test_a_project_form_renderer_renders_this_form_too(settings):
    """With a FORM_RENDERER of the project's own, the renderer hands every template to it."""
    settings.FORM_RENDERER = f"{__name__}.ProjectRenderer"
    renderer = InputRenderer()
    assert renderer._own_inputs == frozenset()
    assert str(Everything(renderer=renderer)["text"]) == "<!--project-->" + str(Everything(renderer=DJANGO)["text"])
