from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"

    def ready(self) -> None:
        # the session cards show notes and their summary; sessions (a layer below) imports nothing
        # of notes, so the notes lend the cards their reads from here
        from sessions.views.pages import CardNotes, lend_notes
        from tutoring.api import mount

        from .api import router
        from .selectors import can_read, notes_prefetch, summary_of

        lend_notes(CardNotes(can_read=can_read, summary_of=summary_of, prefetch=notes_prefetch))
        # and mount their own API routes on the project's API: /api/sessions/{id}/notes...
        mount("/sessions", router)
