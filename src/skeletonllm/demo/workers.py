"""The demo's arms in worker processes, submitted as soon as each can start.

An arm that needs no head start (SUGAR reads skeletons, not frames) can train while the main
process pretrains the backbone, so the second core is not idle during the head start; the
renderer arms follow once the backbone is saved. :class:`ArmWorkers` holds the process pool
(``spawn``: one torch per process), a queue of progress events and one progress bar.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

#: Progress events per arm: the three evaluations, four stages and the end.
EVENTS_PER_ARM = 8


class ArmWorkers:
    """``with ArmWorkers(run, workers, ...) as pool: pool.submit(job); ...; outcomes = pool.wait()``.

    ``run(job, events) -> outcome`` runs one arm (``job.arm``; ``events`` a queue that gets
    ``(arm, what)`` after each stage, or None). With ``workers`` <= 1 the jobs run here, one
    after the other, when :meth:`wait` is called. ``titles``: display names of the arms;
    ``say`` prints a line per finished arm (``label`` in front).
    """

    def __init__(self, run: Callable, workers: int, progress: bool, say: Callable[[str], None],
                 titles: dict[str, str], label: str = ""):
        self.run, self.workers, self.progress, self.say = run, workers, progress, say
        self.titles, self.label = titles, label
        self.jobs: list = []
        self.futures: dict = {}
        self.out: dict[str, dict] = {}
        self.pool = self.manager = self.events = self.bar = None

    def __enter__(self) -> "ArmWorkers":
        if self.workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from tqdm.auto import tqdm

            ctx = mp.get_context("spawn")
            self.manager = ctx.Manager()
            self.events = self.manager.Queue()
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
            self.bar = tqdm(total=0, desc=f"{self.label}arms x {self.workers} processes", unit="step",
                            disable=not self.progress, dynamic_ncols=True)
        return self

    def submit(self, job) -> None:
        """Start ``job`` as soon as a worker is free (with one worker: at :meth:`wait`)."""
        self.jobs.append(job)
        if self.pool is not None:
            self.futures[self.pool.submit(self.run, dataclasses.replace(job, progress=False), self.events)] = job.arm
            self.bar.total += EVENTS_PER_ARM
            self.bar.refresh()

    def _line(self, res: dict) -> str:
        final = res["evaluations"]["final"]
        return (f"      {self.label}{self.titles[res['arm']]}: done in {res['seconds']['total']:.0f} s, unseen "
                f"top-1 {100 * final['unseen_score']['top1']:.1f} %")

    def wait(self) -> dict[str, dict]:
        """Every submitted arm's outcome, in the order of submission."""
        if self.pool is None:
            for k, job in enumerate(self.jobs):
                if job.arm not in self.out:
                    self.say(f"      {self.label}arm {k + 1}/{len(self.jobs)}: {self.titles[job.arm]}")
                    self.out[job.arm] = self.run(job)
            return {job.arm: self.out[job.arm] for job in self.jobs}
        from queue import Empty

        pending = set(self.futures)
        while pending:
            try:
                arm, what = self.events.get(timeout=0.5)
                self.bar.update(1)
                self.bar.set_postfix_str(f"{arm}: {what}")
            except Empty:
                pass
            for f in [f for f in pending if f.done()]:
                pending.discard(f)
                res = f.result()
                self.out[res["arm"]] = res
                self.bar.write(self._line(res)) if self.progress else self.say(self._line(res))
        while not self.events.empty():
            self.events.get()
        return {job.arm: self.out[job.arm] for job in self.jobs}

    def __exit__(self, exc_type, *exc) -> None:
        if self.pool is None:
            return
        if exc_type is not None:
            # The run failed or was interrupted here: stop the arms still running rather than
            # wait minutes for them (their finished stages stay on disk for a resume).
            for proc in list(getattr(self.pool, "_processes", {}).values()):
                proc.terminate()
        self.pool.shutdown(wait=exc_type is None, cancel_futures=True)
        self.bar.close()
        self.manager.shutdown()


__all__ = ["EVENTS_PER_ARM", "ArmWorkers"]
