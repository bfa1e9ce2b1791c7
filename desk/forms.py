"""The desk's forms: each reason is required and follows the shared text rules (no NUL or other
control characters, trimmed, at most rules.MAX_TEXT characters)."""

from django import forms

from sessions.forms import reason_field

from .disputes import DECISION_LABELS


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(label="Decision", widget=forms.RadioSelect, choices=list(DECISION_LABELS.items()),
                                 error_messages={"required": "Please choose a decision."})
    reason = reason_field(label="Reason for the decision", required_message="Please give a reason for the decision.")


class WaiveForm(forms.Form):
    reason = reason_field(label="Reason for the waiver", required_message="Please give a reason for the waiver.")
