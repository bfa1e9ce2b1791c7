import pytest


@pytest.fixture
def fake(fake_openai):
    """The notes tests' short name for the fake OpenAI server."""
    return fake_openai
