"""test/bench/bpr_peer.py: the implicit library's BPR fit time, for bpr.sh.

    python3 bpr_peer.py IMPLICIT_SRC TRAIN_CSV_GZ THREADS FACTORS ITERATIONS

IMPLICIT_SRC is a source tree of implicit with its Cython modules built in
place (see bpr.sh).  Prints "wall_seconds cpu_seconds" of one fit of
BayesianPersonalizedRanking on the split's (user, item) pairs as a binary
matrix, as PEERS.md fits it (learning rate 0.01, regularization 0.01).
"""
import csv
import gzip
import sys
import time

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
from implicit.cpu.bpr import BayesianPersonalizedRanking  # noqa: E402

users, items = {}, {}
rows, cols = [], []
with gzip.open(sys.argv[2], "rt") as f:
    reader = csv.reader(f)
    next(reader)
    for record in reader:
        rows.append(users.setdefault(record[0], len(users)))
        cols.append(items.setdefault(record[1], len(items)))
matrix = scipy.sparse.csr_matrix(
    (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(users), len(items))
)
matrix.data[:] = 1
model = BayesianPersonalizedRanking(
    factors=int(sys.argv[4]), iterations=int(sys.argv[5]), learning_rate=0.01,
    regularization=0.01, num_threads=int(sys.argv[3]), random_state=42,
)
wall, cpu = time.perf_counter(), time.process_time()
model.fit(matrix, show_progress=False)
print(f"{time.perf_counter() - wall:.3f} {time.process_time() - cpu:.3f}")
