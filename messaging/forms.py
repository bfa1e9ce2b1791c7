from django import forms

from .services import clean_body


class MessageForm(forms.Form):
    """The template draws the textarea itself (maxlength MAX_BODY); the checks are clean_body's."""

    body = forms.CharField(required=False, strip=False)

    def clean_body(self):
        body, error = clean_body(self.cleaned_data.get("body", ""))
        if error:
            raise forms.ValidationError(error)
        return body
