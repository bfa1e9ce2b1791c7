"""The Session History filter form's fields, built in Python (creators_tags.history_filters): the
markup the page's template loop made before, byte for byte, for blank, chosen, wrong and hostile
values, and the page still shows the chosen values and escapes the names."""

from html import escape

import pytest
from django.http import QueryDict
from django.template import Context, Template

from creators.forms import HistoryFilterForm
from creators.templatetags.creators_tags import option_list
from tests.conftest import make_user
from tutoring.models import Course, Role

# the loop templates/creators/history.html had before history_filters
TEMPLATE_LOOP = """{% load creators_tags %}  {% for field in form.hidden_fields %}{{ field }}{% endfor %}
  {% for field in form.visible_fields %}
  <div class="field field--{{ field.name }}{% if field.errors %} field--error{% endif %}">
    {% if field.name == "low_rated" %}
      <label class="check">{{ field }} {{ field.label }}</label>
    {% elif field.field.widget.input_type == "select" %}{# options built in Python: widget templates or a template loop cost 30-40 ms for 500 STs #}
      <label for="f-{{ field.name }}">{{ field.label }}</label>
      <select name="{{ field.html_name }}" id="f-{{ field.name }}">{{ field|options }}</select>
    {% else %}
      <label for="f-{{ field.name }}">{{ field.label }}</label>{{ field }}
    {% endif %}
    {% for error in field.errors %}<p class="error" role="alert">{{ field.label }}: {{ error }}</p>{% endfor %}
  </div>
  {% endfor %}
"""
TAG = "{% load creators_tags %}  {% history_filters form %}{# a comment #}\n"  # as the page has it

COURSES = [(3, "Maths & <Physics>"), (4, 'Art "101"')]
TUTORS = [(7, "Tia O'Neil"), (8, "<script>alert(1)</script>"), (9, "Zoë")]
QUERIES = [
    "",
    "course=3&st=8&status=completed&range=week&low_rated=on",
    "range=custom&from=2026-01-01&to=2025-01-01&student=a%22%3Cb%3E%26&student_id=5",
    "from=x&to=2026-13-01&student_id=-1&course=99&st=abc&status=nope&range=forever",
    "range=custom&student=" + "x" * 101,
    "st=9&student=Zo%C3%AB&from=2026-02-01",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("ready_made", [False, True])
def test_the_fields_are_the_markup_the_template_loop_made(query, ready_made):
    lists = {"course": option_list([("", "All courses"), *COURSES]),
             "st": option_list([("", "All STs"), *TUTORS])}
    form = HistoryFilterForm(QueryDict(query), courses=COURSES, tutors=TUTORS,
                             option_lists=lists if ready_made else None)
    before = Template(TEMPLATE_LOOP).render(Context({"form": form}))
    after = Template(TAG).render(Context({"form": form}))
    assert after == before
    assert "<script>" not in after


def test_the_page_shows_the_chosen_filters_and_escapes_names(as_creator, creator, make_session, tutor):
    course = Course.objects.create(title='Chem <b>"lab"</b> & co', creator=creator)
    other = make_user("st-hostile", Role.TUTOR)
    other.name = "<img src=x onerror=alert(1)>"
    other.save(update_fields=["name"])
    make_session(tutor=other, course=course)
    make_session()
    page = as_creator.get(f"/dashboard/teaching/sessions?course={course.id}&st={other.id}&status=completed"
                          "&student=%22%3E%3Cscript%3E&low_rated=on").content.decode()
    assert f'<option value="{course.id}" selected>{escape(course.title)}</option>' in page
    assert f'<option value="{other.id}" selected>&lt;img src=x onerror=alert(1)&gt;</option>' in page
    assert '<option value="completed" selected>Completed</option>' in page
    form = page.split("<main")[1].split("</form>")[0]
    assert 'value="&quot;&gt;&lt;script&gt;"' in form and "<script>" not in form
    assert '<input type="checkbox" name="low_rated" id="f-low_rated" checked>' in page
