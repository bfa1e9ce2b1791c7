"""The Session History filters (spec 000 H07-H12) as a form: every filter lives in the URL, so a
filtered view can be shared and Back returns to it. A bad value is reported next to its field and
ignored; the other filters still apply."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms

from tutoring.input import DayField, TextField
from tutoring.widgets import RENDERER

from .selectors import Filters

RANGES = [("", "All time"), ("today", "Today"), ("week", "This week"), ("month", "This month"),
          ("custom", "Custom range")]
STATUSES = [("all", "All"), ("completed", "Completed"), ("scheduled", "Scheduled"), ("cancelled", "Cancelled"),
            ("no_show", "No-show")]
# what filter_state and filter_applied call each filter (spec 000 analytics)
FILTER_KEYS = ("range", "from", "to", "course", "st", "student", "student_id", "status", "low_rated")
END_BEFORE_START = "The end date is before the start date."
NOT_CUSTOM = "Choose “Custom range” under Dates to filter by this date."


def local_midnight(day: date, tz) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None


def window(choice: str, today: date, tz, first: date | None, last: date | None) -> Window:
    """A date range in the creator's zone: [start, end) as aware datetimes."""
    if choice == "today":
        return Window(local_midnight(today, tz), local_midnight(today + timedelta(days=1), tz))
    if choice == "week":
        monday = today - timedelta(days=today.weekday())
        return Window(local_midnight(monday, tz), local_midnight(monday + timedelta(days=7), tz))
    if choice == "month":
        first_day = today.replace(day=1)
        following = (first_day + timedelta(days=32)).replace(day=1)
        return Window(local_midnight(first_day, tz), local_midnight(following, tz))
    if choice == "custom":
        return Window(local_midnight(first, tz) if first else None,
                      local_midnight(last + timedelta(days=1), tz) if last else None)
    return Window(None, None)


class PlainSelect(forms.Select):
    """A select whose choices are already plain (value, label) pairs, kept as given."""

    @property
    def choices(self):
        return self._plain

    @choices.setter
    def choices(self, value):
        self._plain = value


class IdChoiceField(forms.TypedChoiceField):
    """A choice of one id among (id, label) pairs. Django normalizes choices on every assignment,
    twice (field and widget): about a millisecond a request for 500 STs. These pairs are plain
    already; they are kept as a list, and a value is looked up in a set."""

    widget = PlainSelect

    def __init__(self, **kwargs):
        super().__init__(coerce=int, empty_value=None, **kwargs)

    @property
    def choices(self):
        return self._choices

    @choices.setter
    def choices(self, value):
        self._choices = self.widget.choices = list(value)
        self._valid = {str(key) for key, _ in self._choices}

    def valid_value(self, value):
        return str(value) in self._valid


class HistoryFilterForm(forms.Form):
    default_renderer = RENDERER  # its inputs written in Python (tutoring/widgets.py), the same markup
    range = forms.ChoiceField(label="Dates", choices=RANGES, required=False)
    start = DayField(label="From", required=False)
    end = DayField(label="To", required=False)
    course = IdChoiceField(label="Course", required=False)
    st = IdChoiceField(label="ST", required=False)
    student = TextField(label="Student", max_length=100, required=False, what="student name", help_text="",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Search by name",
                                                      "autocomplete": "off"}))
    # one student exactly (a student's page links with it); kept across filter changes, cleared
    # with the other filters
    student_id = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    status = forms.ChoiceField(label="Status", choices=STATUSES, required=False)
    low_rated = forms.BooleanField(label="Low ratings only (2 stars or less)", required=False)

    # the URL names of the date fields are "from" and "to" (as in the API)
    URL_NAMES = {"start": "from", "end": "to"}

    def __init__(self, data, *, courses, tutors, option_lists=None, **kwargs):
        super().__init__(data, **kwargs)
        # the selects' <option> lists ready-made, by field name (creators_tags.options); optional
        self.option_lists = option_lists or {}
        for name, choices in self.select_choices(courses, tutors).items():
            self.fields[name].choices = choices
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("id", f"f-{name}")

    @staticmethod
    def select_choices(courses, tutors) -> dict[str, list]:
        """The selects' choices: the creator's courses ((id, title) pairs) and STs ((id, name) pairs)."""
        return {"course": [("", "All courses"), *courses], "st": [("", "All STs"), *tutors]}

    def with_data(self, data) -> "HistoryFilterForm":
        """The same form (same course and ST choices) over other query parameters."""
        return type(self)(data, courses=self.fields["course"].choices[1:], tutors=self.fields["st"].choices[1:],
                          option_lists=self.option_lists)

    def add_prefix(self, field_name):
        # render and read the date fields under their URL names
        return self.URL_NAMES.get(field_name, field_name)

    def clean(self):
        """Every date problem is said at its field (the API's FilterIn says the same): an end
        before the start, a date without "Custom range", a custom range without a date."""
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", END_BEFORE_START)
        if data.get("range") == "custom":
            if "start" not in self.errors and "end" not in self.errors and not (start or end):
                self.add_error("start", "Choose a start or an end date for a custom range.")
        elif "range" not in self.errors:
            for name in ("start", "end"):
                if data.get(name) and name not in self.errors:
                    self.add_error(name, NOT_CUSTOM)
        return data

    def value(self, name):
        """The cleaned value, or the default when the field was missing or invalid."""
        if self.is_valid() or name not in self.errors:
            return self.cleaned_data.get(name)
        return None

    def filters(self, *, today: date, tz) -> Filters:
        self.is_valid()  # fills cleaned_data with the valid fields; errors stay for display
        data = {name: self.value(name) for name in self.fields}
        span = window(data["range"] or "", today, tz, data["start"], data["end"])
        status = data["status"] or "all"
        return Filters(course_id=data["course"], tutor_id=data["st"], student=(data["student"] or "").strip(),
                       student_id=data["student_id"],
                       bucket="" if status == "all" else status, start=span.start, end=span.end,
                       low_rated=bool(data["low_rated"]))

    def state(self) -> dict[str, str]:
        """The active filters as URL names and values (analytics filter_state, links)."""
        self.is_valid()
        state = {}
        custom = self.value("range") == "custom"
        for name in self.fields:
            value = self.value(name)
            if value in (None, "", False) or (name == "status" and value == "all"):
                continue
            if name in ("start", "end") and not custom:
                continue  # dates count only with a custom range
            state[self.URL_NAMES.get(name, name)] = "1" if value is True else str(value)
        return state
