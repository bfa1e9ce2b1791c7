"""The bot's buttons, made from the action registry (sessions/actions.py): each entry's Bot parts
give a button's key, its label, what pressing it does (run the action with the button's data, or
open a short conversation, "starts", whose steps live in telegram_bot.core) and the text after it.
A button is offered when the action's guard allows it now (sessions.actions.allowed_in); the
lifecycle checks every press again under the session lock, and its refusal is what the tutor reads."""

from dataclasses import dataclass

from sessions.actions import ACTIONS as REGISTRY
from sessions.actions import Action, Bot
from sessions.models import Channel

TELEGRAM = Channel.TELEGRAM


@dataclass(frozen=True)
class BotAction:
    action: Action  # the registry entry
    button: Bot

    @property
    def label(self) -> str:
        return self.button.label

    @property
    def starts(self) -> str:
        return self.button.starts

    @property
    def proposal(self) -> bool:  # the button answers the open proposal: it carries its id
        return self.action.proposal

    def run(self, session, user, proposal_id, now, data: dict | None = None) -> str:
        """Run the action with the button's data (and what a conversation collected); returns the
        text to show with the session."""
        self.action.perform(session, by=user, channel=TELEGRAM, now=now,
                            data={**self.button.data, **(data or {}), "proposal_id": proposal_id})
        return self.button.done


ACTIONS: dict[str, BotAction] = {b.key: BotAction(a, b) for a in REGISTRY for b in a.bot}


def by_conversation(name: str) -> BotAction:
    """The button that opens a conversation (its end runs the same action and says its done text)."""
    return next(b for b in ACTIONS.values() if b.starts == name)
