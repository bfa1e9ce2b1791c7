"""What goes wrong with a video provider, as the one domain error (sessions.errors.Refused) that the
room page, the API and the admin already know how to show. Whatever the cause, a participant reads
"Video service unavailable. Try again."; the cause is kept on the error for logs and coordinators."""

from sessions.errors import Refused

UNAVAILABLE = "Video service unavailable. Try again."
SERVICE_UNAVAILABLE = 503


class VideoUnavailable(Refused):
    """The provider could not do what was asked; `cause` says why (never shown to participants)."""

    def __init__(self, cause: str = ""):
        super().__init__(UNAVAILABLE, code="video_unavailable", status=SERVICE_UNAVAILABLE)
        self.cause = cause

    def __str__(self) -> str:
        return f"{UNAVAILABLE} ({self.cause})" if self.cause else UNAVAILABLE


class ProviderDown(VideoUnavailable):
    """No answer, a timeout, a 5xx or an answer that is not the provider's protocol."""


class CredentialsRejected(VideoUnavailable):
    """The provider refused the deployment's API key, secret or checksum: a configuration problem
    that only a coordinator (operations) can fix. Reported once per incident (video.incidents)."""


class ProviderRefused(VideoUnavailable):
    """The provider answered but refused the call (bad parameter, unknown room or recording)."""


class NotAtProvider(ProviderRefused):
    """The room or recording does not exist at the provider (ended, deleted, never created)."""


class NotYetAtProvider(VideoUnavailable):
    """The provider has the recording but not yet in the form that is copied (BigBlueButton's "video"
    playback format is published after the others, and its recording-ready callback may come first):
    retried with backoff for a bounded time (video.recordings.PLAYBACK_WAIT), never a failure at once."""
