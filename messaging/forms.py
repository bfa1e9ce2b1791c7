from django import forms

from tutoring.input import TextField

from .models import MAX_BODY


class MessageForm(forms.Form):
    """The template draws the textarea itself (maxlength MAX_BODY); the checks are the shared text
    type's (tutoring.input: control characters refused, the length stated)."""

    body = TextField(max_length=MAX_BODY, what="message",
                     error_messages={"required": "Write a message before sending."})
