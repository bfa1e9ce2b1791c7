"""Video settings fail fast: a provider chosen without its credentials, a partial set of
credentials or a malformed value stops start-up with a message naming the variable; complete
settings are accepted. (manage.py in a subprocess, as tests/tutoring/test_settings.py.)"""

import re

import pytest

from tests.tutoring.test_settings import ENV_EXAMPLE, manage

PNM = {"PLUGNMEET_URL": "https://pnm.example.com", "PLUGNMEET_API_KEY": "key", "PLUGNMEET_API_SECRET": "s" * 36}
BBB = {"BBB_URL": "https://bbb.example.com/bigbluebutton/api", "BBB_SECRET": "b" * 40}

BAD = [
    pytest.param({"VIDEO_PROVIDER": "zoom"}, "VIDEO_PROVIDER", id="unknown-provider"),
    pytest.param({"VIDEO_PROVIDER": "plugnmeet"}, "PLUGNMEET_URL", id="plugnmeet-without-credentials"),
    pytest.param({"VIDEO_PROVIDER": "bbb"}, "BBB_SECRET", id="bbb-without-credentials"),
    pytest.param({**PNM, "PLUGNMEET_API_SECRET": ""}, "PLUGNMEET_API_SECRET", id="plugnmeet-without-secret"),
    pytest.param({**PNM, "PLUGNMEET_URL": "pnm.example.com"}, "PLUGNMEET_URL", id="plugnmeet-url-without-scheme"),
    pytest.param({**BBB, "BBB_URL": "https://bbb.example.com/"}, "BBB_URL", id="bbb-url-not-the-api"),
    pytest.param({**BBB, "BBB_CHECKSUM": "md5"}, "BBB_CHECKSUM", id="bbb-checksum-md5"),
    pytest.param({"VIDEO_ROOM_PREFIX": "has spaces"}, "VIDEO_ROOM_PREFIX", id="room-prefix"),
    pytest.param({"RECORDING_PART_MB": "4"}, "RECORDING_PART_MB", id="parts-under-5-mb"),
]


@pytest.mark.parametrize(("changes", "variable"), BAD)
def test_bad_video_settings_stop_start_up_naming_the_variable(changes, variable):
    result = manage("check", **changes)
    assert result.returncode != 0, result.stdout + result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:") and variable in last_line, last_line


@pytest.mark.parametrize("changes", [
    pytest.param({}, id="built-in-room-by-default"),
    pytest.param({"VIDEO_PROVIDER": "plugnmeet", **PNM, **BBB, "BBB_CHECKSUM": "sha1"}, id="both"),
])
def test_complete_video_settings_are_accepted(changes):
    result = manage("check", **changes)
    assert result.returncode == 0, result.stderr


def test_env_example_documents_the_video_variables():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    assert {"VIDEO_PROVIDER", *PNM, *BBB, "BBB_CHECKSUM", "VIDEO_HTTP_TIMEOUT_SECONDS", "VIDEO_ROOM_PREFIX",
            "VIDEO_RECORD_DEFAULT", "RECORDING_PART_MB"} <= documented
