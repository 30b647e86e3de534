"""Task reminder jobs: the deferred reminder at a task's due time, and its catch-up."""

from __future__ import annotations

from app.services import work


async def send_task_reminder(ctx: dict, task_id: int, due_at: int) -> str:
    return await work.send_reminder(task_id, due_at)


async def catch_up_task_reminders(ctx: dict) -> int:
    return await work.catch_up_reminders()
