"""Running a connector scenario with a time limit, and waiting for a condition while the loop runs."""

import asyncio


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout=timeout))


async def until(predicate, timeout: float = 15.0, step: float = 0.05) -> None:
    for _ in range(int(timeout / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")
