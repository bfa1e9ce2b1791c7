"""A fake BigBlueButton server on 127.0.0.1 that checks what the real one checks.

The checksum is bigbluebutton's GetChecksum.java + ChecksumValidator.java / ParamsProcessorUtil
.isChecksumSame: "&checksum=<c>" (or "checksum=<c>&", "checksum=<c>") is cut out of the raw query
string, then hex(SHA(call + rest + secret)) is computed with SHA-1 for a 40-character checksum and
SHA-256 for 64, each only if the server's supportedChecksumAlgorithms allows it, and compared.
A mismatch answers <returncode>FAILED</returncode><messageKey>checksumError</messageKey>.
join refuses a createTime that is not the running meeting's (mismatchCreateTimeParam, as
ApiController.groovy), an unknown meeting (notFound), a role other than MODERATOR/VIEWER, and a
join without a name: an empty fullName is missingParamFullName (bbb-common-web JoinMeeting.java,
@NotEmpty), and an absent one fails too (NotEmptyValidator lets null through, then
ApiController.join's ParamsUtil.stripControlChars(params.fullName) throws: an HTTP 500).
Recordings have a "video" playback format whose file (video-0.m4v) downloads with HTTP Range; a
recording added with video=False is listed with its presentation format only (the video format is
still processing, as when the recording-ready callback of the first published format comes before
it) until the test sets `recording.video = True`.

The client: a join redirects to /html5client/join?sessionToken=..., a minimal stand-in for BBB's
HTML5 client (what the room page frames) naming who joined and as what; its pagehide beacon
(POST /html5client/leave) takes the attendee out of the meeting (getMeetingInfo no longer lists them).

The recording-ready callback is signed as post_publish_recording_ready_callback.rb signs it:
`recording_ready_form(meeting_id, record_id)` -> {"signed_parameters": JWT HS256 with the secret}.

    with FakeBBB(algorithms={"sha256"}) as fake:
        fake.url  # .../bigbluebutton/api
        fake.add_recording("rec-1", meeting_id, data=b"...")
"""

import hashlib
import itertools
import secrets
import time
from dataclasses import dataclass, field
from html import escape as html_escape
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import jwt

from .fakeserver import Download, FakeServer, Reply, Request

API = "/bigbluebutton/api/"
LENGTHS = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}


def xml(returncode: str, body: str = "", key: str = "", message: str = "") -> Reply:
    parts = [f"<returncode>{returncode}</returncode>", body]
    if key:
        parts.append(f"<messageKey>{escape(key)}</messageKey><message>{escape(message)}</message>")
    return Reply(200, f"<response>{''.join(parts)}</response>".encode(), "text/xml;charset=utf-8")


def failed(key: str, message: str) -> Reply:
    return xml("FAILED", key=key, message=message)


@dataclass
class FakeMeeting:
    meeting_id: str
    name: str
    create_time: int
    record: bool
    meta: dict
    running: bool = False
    attendees: list = field(default_factory=list)  # (userID, fullName, role)


@dataclass
class FakeRecording:
    record_id: str
    meeting_id: str
    data: bytes
    published: bool = True
    video: bool = True  # the "video" playback format is published (False: still processing)
    start_time: int = field(default_factory=lambda: int(time.time() * 1000))


class FakeBBB(FakeServer):
    name = "fake-bbb"

    def __init__(self, *, secret: str | None = None, algorithms=frozenset({"sha1", "sha256"})):
        super().__init__()
        self.secret = secret or secrets.token_hex(20)
        self.algorithms = set(algorithms)
        self.meetings: dict[str, FakeMeeting] = {}
        self.recordings: dict[str, FakeRecording] = {}
        self.clock = itertools.count(int(time.time() * 1000))
        self.sessions: dict[str, tuple[str, tuple]] = {}  # sessionToken -> (meeting id, attendee)

    @property
    def url(self) -> str:
        return self.base_url + API.rstrip("/")

    # --- scripting -------------------------------------------------------------------------------

    def add_recording(self, record_id: str, meeting_id: str, *, data: bytes, published: bool = True,
                      video: bool = True):
        self.recordings[record_id] = FakeRecording(record_id, meeting_id, data, published, video)
        return self.recordings[record_id]

    def recording_ready_form(self, meeting_id: str, record_id: str, *, secret: str | None = None) -> dict:
        """The form post_publish_recording_ready_callback.rb POSTs: JWT.encode(payload, secret)."""
        token = jwt.encode({"meeting_id": meeting_id, "record_id": record_id}, secret or self.secret,
                           algorithm="HS256")
        return {"signed_parameters": token}

    # --- the server ------------------------------------------------------------------------------

    def answer(self, request: Request):
        if request.path.startswith("/playback/video/") and request.path.endswith("/video-0.m4v"):
            rec = self.recordings.get(request.path.split("/")[3])
            return (Download(rec.data) if rec and rec.published and rec.video
                    else Reply(404, b"not found", "text/plain"))
        if request.path in ("/html5client/join", "/html5client/leave"):
            return self.client(request.path, parse_qs(request.query).get("sessionToken", [""])[0])
        if not request.path.startswith(API):
            return Reply(404, b"not found", "text/plain")
        call = request.path.removeprefix(API)
        if not self.checksum_ok(call, request.query):
            return failed("checksumError", "Checksums do not match")
        params = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        route = {"create": self.create, "join": self.join, "end": self.end, "getMeetingInfo": self.meeting_info,
                 "getRecordings": self.get_recordings}.get(call)
        if route is None:
            return failed("unsupportedRequest", "This request is not supported.")
        return route(params)

    def checksum_ok(self, call: str, query: str) -> bool:
        params = parse_qs(query, keep_blank_values=True)
        provided = (params.get("checksum") or [""])[0]
        if not provided:
            return False
        rest = query.replace("&checksum=" + provided, "")
        rest = rest.replace("checksum=" + provided + "&", "")
        rest = rest.replace("checksum=" + provided, "")
        algorithm = LENGTHS.get(len(provided))
        if algorithm not in self.algorithms:
            return False
        ours = hashlib.new(algorithm, (call + rest + self.secret).encode()).hexdigest()
        return ours.lower() == provided.lower()

    def create(self, params: dict) -> Reply:
        meeting_id = params.get("meetingID", "").strip()
        if not meeting_id:
            return failed("missingParamMeetingID", "You must specify a meeting ID for the meeting.")
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            meta = {k.removeprefix("meta_").lower(): v for k, v in params.items() if k.startswith("meta_")}
            meeting = self.meetings[meeting_id] = FakeMeeting(meeting_id, params.get("name", ""), next(self.clock),
                                                              params.get("record") == "true", meta)
            warning = ""
        else:
            warning = ("<messageKey>duplicateWarning</messageKey><message>This conference was already in "
                       "existence and may currently be in progress.</message>")
        return xml("SUCCESS", f"<meetingID>{escape(meeting_id)}</meetingID><internalMeetingID>i-{meeting.create_time}"
                              f"</internalMeetingID><createTime>{meeting.create_time}</createTime>"
                              f"<hasBeenForciblyEnded>false</hasBeenForciblyEnded>{warning}")

    def join(self, params: dict) -> Reply:
        if "fullName" not in params:
            return Reply(500, b"<!doctype html><title>Error</title><p>Internal server error</p>", "text/html")
        if not params["fullName"]:
            return failed("missingParamFullName", "You must provide your name")
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return failed("notFound", "We could not find a meeting with that meeting ID - perhaps the meeting is "
                                      "not yet running?")
        if "createTime" in params and params["createTime"] != str(meeting.create_time):
            return failed("mismatchCreateTimeParam",
                          "The createTime parameter submitted mismatches with the current meeting.")
        role = params.get("role", "").upper()
        if role not in ("MODERATOR", "VIEWER"):
            return failed("invalidPassword", "You submitted an invalid password.")
        meeting.running = True
        attendee = (params.get("userID", ""), params.get("fullName", ""), role)
        meeting.attendees.append(attendee)
        token = secrets.token_hex(8)
        self.sessions[token] = (meeting.meeting_id, attendee)
        return Reply(302, b"", "text/plain", {"Location": f"{self.base_url}/html5client/join?sessionToken={token}"})

    def client(self, path: str, token: str) -> Reply:
        found = self.sessions.get(token)
        meeting = self.meetings.get(found[0]) if found else None
        if meeting is None:
            return Reply(401, b"<!doctype html><title>BigBlueButton</title><p>Invalid session.</p>",
                         "text/html; charset=utf-8")
        user_id, name, role = found[1]
        if path.endswith("/leave"):
            if found[1] in meeting.attendees:
                meeting.attendees.remove(found[1])
            return Reply(204, b"", "text/plain")
        page = (f"<!doctype html><html lang=en><title>BigBlueButton</title><main><h1>BigBlueButton test client</h1>"
                f"<p id=who>{html_escape(name)} ({role.lower()}) in {html_escape(meeting.name)}</p></main><script>"
                f"addEventListener('pagehide', () => navigator.sendBeacon('/html5client/leave?sessionToken={token}'));"
                f"</script>")
        return Reply(200, page.encode(), "text/html; charset=utf-8")

    def end(self, params: dict) -> Reply:
        if self.meetings.pop(params.get("meetingID", ""), None) is None:
            return failed("notFound", "We could not find a meeting with that meeting ID - perhaps the meeting is "
                                      "not yet running?")
        return xml("SUCCESS", key="sentEndMeetingRequest",
                   message="A request to end the meeting was sent. Please wait a few seconds, and then use the "
                           "getMeetingInfo or isMeetingRunning API calls to verify that it was ended.")

    def meeting_info(self, params: dict) -> Reply:
        meeting = self.meetings.get(params.get("meetingID", ""))
        if meeting is None:
            return failed("notFound", "A meeting with that ID does not exist")
        people = "".join(f"<attendee><userID>{escape(u)}</userID><fullName>{escape(n)}</fullName><role>{r}</role>"
                         f"</attendee>" for u, n, r in meeting.attendees)
        return xml("SUCCESS", f"<meetingName>{escape(meeting.name)}</meetingName><meetingID>{escape(meeting.meeting_id)}"
                              f"</meetingID><createTime>{meeting.create_time}</createTime><running>"
                              f"{'true' if meeting.running else 'false'}</running><participantCount>"
                              f"{len(meeting.attendees)}</participantCount><attendees>{people}</attendees>")

    def get_recordings(self, params: dict) -> Reply:
        wanted_meetings = set(filter(None, params.get("meetingID", "").split(",")))
        wanted_records = set(filter(None, params.get("recordID", "").split(",")))
        found = [r for r in self.recordings.values()
                 if (not wanted_meetings or r.meeting_id in wanted_meetings)
                 and (not wanted_records or r.record_id in wanted_records)]
        if not found:
            return xml("SUCCESS", "<recordings></recordings>", "noRecordings", "There are no recordings for the "
                                                                               "meeting(s).")
        items = "".join(
            f"<recording><recordID>{escape(r.record_id)}</recordID><meetingID>{escape(r.meeting_id)}</meetingID>"
            f"<published>{'true' if r.published else 'false'}</published>"
            f"<state>{'published' if r.published else 'unpublished'}</state><startTime>{r.start_time}</startTime>"
            f"<playback><format><type>presentation</type><url>{self.base_url}/playback/presentation/2.3/"
            f"{escape(r.record_id)}</url><length>1</length></format>"
            + (f"<format><type>video</type><url>{self.base_url}/playback/video/{escape(r.record_id)}/</url>"
               f"<length>1</length><size>{len(r.data)}</size></format>" if r.video else "")
            + "</playback></recording>"
            for r in found)
        return xml("SUCCESS", f"<recordings>{items}</recordings>")
