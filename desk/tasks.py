"""The desk's Celery tasks: the low-balance alert (published by name after an approval's
deduction commits: sessions.lifecycle) and beat's catch-up sweep for alerts a lost publish missed."""

from celery import shared_task

from . import billing


@shared_task(name="desk.tasks.alert_low_balance", ignore_result=True)
def alert_low_balance(package_id: int) -> bool:
    return billing.alert_low_balance(package_id)


@shared_task(name="desk.tasks.sweep_low_balances", ignore_result=True)
def sweep_low_balances() -> int:
    return billing.sweep_low_balances()
