from celery import shared_task

from . import bot


@shared_task(acks_late=True)
def handle_update(payload: dict) -> bool:
    """One webhook update: handled the first time its update_id is seen, else dropped."""
    if not bot.claim(int(payload["update_id"])):
        return False
    bot.process(payload)
    return True
