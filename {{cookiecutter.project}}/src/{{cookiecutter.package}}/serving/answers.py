"""A scored batch's answers, held column-wise as the task makes them (training/task.py).

A 10k-row batch is answered, counted and logged from its columns; the dict of one record's
answer is made only when something asks for that record (a micro-batched single request, the
shadow, a sampled log row).
"""

from collections.abc import Sequence


class Answers(Sequence):
    """`columns`: answer field -> one value per record; `answers[i]`: record i's answer."""

    def __init__(self, columns):
        self.columns = columns
        self._count = len(next(iter(columns.values())))

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        return {key: values[index] for key, values in self.columns.items()}
