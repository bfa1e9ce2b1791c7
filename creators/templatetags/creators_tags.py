import html

from django import template
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe

register = template.Library()


def option_list(choices) -> str:
    """<option> elements for (value, label) pairs, every value and label escaped, none selected
    (an int's digits need no escaping: 500 STs' ids are half the escapes of the list)."""
    e = html.escape
    return "".join([f'<option value="{value if type(value) is int else e(str(value))}">'
                    f'{e(str(label))}</option>' for value, label in choices])


@register.filter
def options(field):
    """A select's <option> list built in plain Python: a template loop (or format_html per option)
    over 500 STs costs 10-40 ms a page. A form may carry the list ready-made (`option_lists`, built
    once per cached page frame); the current value is then marked in it."""
    current = "" if field.value() is None else str(field.value())
    html = getattr(field.form, "option_lists", {}).get(field.name) or option_list(field.field.choices)
    opening = f'<option value="{escape(current)}">'  # a whole element start: matches only that value
    html = html.replace(opening, f'{opening[:-1]} selected>', 1)
    return mark_safe(html)  # noqa: S308 - built by option_list, which escapes every value and label


def _filter_field(field) -> str:
    name, label = conditional_escape(field.name), conditional_escape(field.label)
    if field.name == "low_rated":
        control = f'\n      <label class="check">{field} {label}</label>\n    '
    elif getattr(field.field.widget, "input_type", None) == "select":
        control = (f'\n      <label for="f-{name}">{label}</label>\n      '
                   f'<select name="{conditional_escape(field.html_name)}" id="f-{name}">'
                   f'{options(field)}</select>\n    ')
    else:
        control = f'\n      <label for="f-{name}">{label}</label>{field}\n    '
    errors = field.errors
    shown = "".join(f'<p class="error" role="alert">{label}: {conditional_escape(error)}</p>'
                    for error in errors)
    return (f'\n  <div class="field field--{name}{" field--error" if errors else ""}">'
            f"\n    {control}\n    {shown}\n  </div>\n  ")


@register.simple_tag
def history_filters(form):
    """The Session History filter form's fields: the hidden ones, then each visible one in its
    <div class="field"> with its label, control and errors. The markup the template loop made,
    built in plain Python (the loop cost as much as the rest of the page's template). Every name,
    label and error is escaped with conditional_escape, as the template did; the controls are the
    form's own (`options` for the selects)."""
    hidden = "".join(str(field) for field in form.hidden_fields())
    fields = "".join(_filter_field(field) for field in form.visible_fields())
    return mark_safe(f"{hidden}\n  {fields}")  # noqa: S308 - every text escaped in _filter_field


def avatar_html(person) -> str:
    if person.avatar_url:
        return (f'<img class="avatar" src="{html.escape(person.avatar_url)}" alt="" width="28" height="28" '
                f'loading="lazy">')
    return f'<span class="avatar avatar--initials" aria-hidden="true">{html.escape(person.name[:1].upper())}</span>'


@register.filter
def avatar(person):
    """A person's avatar, or their initial when they have none (decorative: the name follows)."""
    return mark_safe(avatar_html(person))  # noqa: S308 - every text escaped in avatar_html


def stars_html(rating) -> str:
    rating = int(rating or 0)
    return f'<span class="stars__shown" aria-hidden="true">{"★" * rating + "☆" * (5 - rating)}</span>'


@register.filter
def stars(rating):
    """★★☆☆☆ for a 1-5 rating (hidden from screen readers: the caller names the rating)."""
    return mark_safe(stars_html(rating))  # noqa: S308 - only stars


def _history_row(s, u: dict, next_here: str) -> str:
    e = html.escape
    course = (f'<a href="{e(u["course"])}{int(s.course.id)}/">{e(s.course.title)}</a>' if s.course else "–")
    if s.status == "disputed":
        status = '<span class="label label--disputed">Disputed: needs a decision</span>'
    else:
        status = f'<span class="label label--{e(s.bucket)}">{e(s.bucket_label)}</span>'
    if s.rating:
        rating = (f'<span class="stars" role="img" aria-label="{int(s.rating)} of 5 stars">{stars_html(s.rating)}</span>'
                  + (' <span class="flag">Low rating: review</span>' if s.low_rating else ""))
    else:
        rating = "–"
    view = e(s.view_url)
    recording = (f'<a class="play" href="{view}#recording" aria-label="Recording of session {s.id}">▶</a>'
                 if s.has_recording else "–")
    duration = f"{s.actual_minutes} min" if s.actual_minutes is not None else "–"
    people = []
    for role, person in (("Student", s.student), ("ST", s.tutor)):
        people.append(f'<td data-label="{role}"><a class="person" href="{e(u["profile"])}{int(person.id)}/">'
                      f'{avatar_html(person)}{e(person.name)}</a></td>')
    return (
        f'<tr id="row-{int(s.id)}" class="{"row--flagged" if s.low_rating else ""}">'
        f'<td data-label="Date/Time"><time datetime="{e(s.iso_start)}">{e(s.when)}</time></td>'
        f'<td data-label="Course">{course}</td>{people[0]}{people[1]}'
        f'<td data-label="Duration">{duration}</td><td data-label="Status">{status}</td>'
        f'<td data-label="Rating">{rating}</td><td data-label="Recording">{recording}</td>'
        f'<td data-label="Actions" class="row-actions">'
        f'<a href="{view}" hx-get="{view}" hx-target="#detail" hx-swap="outerHTML" hx-push-url="true" '
        f'aria-label="View session {int(s.id)}">View</a> '
        f'<details class="message-menu"><summary aria-label="Message about session {int(s.id)}">Message</summary> '
        f'<a href="{e(u["messages"])}{int(s.student.id)}/?next={e(next_here)}">{e(s.student.name)}</a> '
        f'<a href="{e(u["messages"])}{int(s.tutor.id)}/?next={e(next_here)}">{e(s.tutor.name)}</a> '
        f"</details></td></tr>")


@register.simple_tag
def history_rows(rows, u, next_here):
    """The Session History table's rows, built in plain Python: the template loop over a page of
    25 rows (some 30 values each) was the largest part of an uncached page. Every text is escaped
    with the standard library's escape (Django's, without its lazy-string wrapper); ids and
    ratings are integers."""
    return mark_safe("\n".join(_history_row(s, u, next_here) for s in rows))  # noqa: S308 - escaped above



def _percent(rate) -> str:
    return f"{round(rate * 100)}%"  # as {% widthratio rate 1 100 %}%


def _cell(value, shown=str) -> str:
    return "–" if value is None else shown(value)


@register.filter
def st_rows(by_st, profile_url):
    """The per-ST metrics table's rows, built in plain Python: a template loop (or format_html)
    over 500 STs with five cells each cost more than the query that sums them. Each cell is
    labelled (data-label: a phone shows each ST as a card, creators.css). Names are escaped;
    the numbers are numbers (the site has one language and no thousands separator). The
    standard library's escape is Django's without its lazy-string wrapper."""
    return mark_safe("\n".join(  # noqa: S308 - every text escaped here, the rest are numbers
        f'<tr><th scope="row"><a href="{html.escape(profile_url)}{int(r["tutor"]["id"])}/">{html.escape(r["tutor"]["name"])}</a></th>'
        f'<td data-label="Sessions">{int(r["total"])}</td>'
        f'<td data-label="Avg duration">{_cell(r["average_duration_minutes"], lambda v: f"{v} min")}</td>'
        f'<td data-label="Completion">{_cell(r["completion_rate"], _percent)}</td>'
        f'<td data-label="Rating">{_cell(r["average_rating"])}</td>'
        f'<td data-label="No-show">{_cell(r["no_show_rate"], _percent)}</td></tr>'
        for r in by_st))
