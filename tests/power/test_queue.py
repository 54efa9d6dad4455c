"""The PM work queue: tasks wait for acknowledgements and resume in order; a failing task does
not stop the others."""

from __future__ import annotations

from iokit_host.power.queue import Task, TaskBody, Wait, WorkQueue


def test_a_task_resumes_when_its_last_ack_arrives_and_an_ack_counts_once() -> None:
    order: list[str] = []
    queue = WorkQueue(lambda task, error: order.append(f"failed {task.label}"))
    acks = []

    def body() -> TaskBody:
        wait = Wait(queue)
        acks.extend([wait.ack("child"), wait.ack("child")])
        order.append("waiting")
        yield wait
        order.append("resumed")

    queue.spawn(Task(body(), "t", lambda task: order.append("done")))
    queue.run()
    assert order == ["waiting"] and queue.waiting == 1
    assert acks[0].resolve() and not acks[0].resolve()
    queue.run()
    assert order == ["waiting"]
    acks[1].resolve()
    queue.run()
    assert order == ["waiting", "resumed", "done"] and queue.waiting == 0


def test_a_task_that_raises_is_reported_and_finished_and_the_next_runs() -> None:
    seen: list[str] = []
    queue = WorkQueue(lambda task, error: seen.append(f"{task.label}: {error}"))

    def bad() -> TaskBody:
        raise ValueError("bug")
        yield  # pragma: no cover

    def good() -> TaskBody:
        seen.append("good ran")
        return
        yield  # pragma: no cover

    queue.spawn(Task(bad(), "bad", lambda task: seen.append("bad done")))
    queue.spawn(Task(good(), "good"))
    queue.run()
    assert seen == ["bad: bug", "bad done", "good ran"]
