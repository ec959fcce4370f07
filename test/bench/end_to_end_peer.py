"""test/bench/end_to_end_peer.py: the implicit library's fit times, for end_to_end.sh.

    python3 end_to_end_peer.py IMPLICIT_SRC MATRIX_NPZ CSV_GZ THREADS FACTORS ITERATIONS K

IMPLICIT_SRC is a source tree of implicit (0.7.x) with its Cython modules
built in place (see bpr.sh).  The (user, item, weight) rows of CSV_GZ are
parsed once into a users x items CSR matrix, cached in MATRIX_NPZ (not
timed).  Prints "als_fit_seconds knn_fit_seconds": one fit of
AlternatingLeastSquares (FACTORS, ITERATIONS, binary confidences, as
train_cf without weight_col) and one of BM25Recommender (K neighbours, on
the weights, as train_item_knn with weight_col), each fit() alone.
"""
import gzip
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402
from implicit.cpu.als import AlternatingLeastSquares  # noqa: E402
from implicit.nearest_neighbours import BM25Recommender  # noqa: E402

npz, csv_gz = sys.argv[2], sys.argv[3]
threads, factors, iterations, k = (int(a) for a in sys.argv[4:8])
if not os.path.exists(npz):
    with gzip.open(csv_gz, "rb") as f:
        f.readline()  # header
        text = f.read().replace(b",", b" ")
    rows = np.fromstring(text, dtype=np.float64, sep=" ").reshape(-1, 3)
    del text
    users = np.unique(rows[:, 0], return_inverse=True)[1]
    items = np.unique(rows[:, 1], return_inverse=True)[1]
    matrix = scipy.sparse.csr_matrix(
        (rows[:, 2].astype(np.float32), (users, items)), shape=(users.max() + 1, items.max() + 1)
    )
    scipy.sparse.save_npz(npz, matrix, compressed=False)
matrix = scipy.sparse.load_npz(npz).tocsr()

binary = matrix.copy()
binary.data[:] = 1
als = AlternatingLeastSquares(factors=factors, iterations=iterations, num_threads=threads,
                              calculate_training_loss=False, random_state=42)
wall = time.perf_counter()
als.fit(binary, show_progress=False)
als_seconds = time.perf_counter() - wall
del binary, als

knn = BM25Recommender(K=k, num_threads=threads)
wall = time.perf_counter()
knn.fit(matrix, show_progress=False)
knn_seconds = time.perf_counter() - wall
print(f"{als_seconds:.3f} {knn_seconds:.3f}")
