"""A network trained full-batch on rows spread over a Dask cluster.

The rows are cut into shards that stay on the workers; each evaluation ships theta,
each worker sums the loss and its gradient (or Hessian-vector product) over its rows,
and this process adds the sums in shard order -- the same numbers as the local
objective, whatever the number of workers.  Here the cluster is a LocalCluster of
worker processes on this machine; across machines, start `dask scheduler` on one,
`dask worker tcp://<scheduler>:8786` on each of the others, and pass
`Client("tcp://<scheduler>:8786")` instead (README: "Across machines").

Run: python examples/05_cluster.py
"""

import numpy as np
from distributed import Client, LocalCluster

import pykernels as pk
from pykernels.datasets import spirals

if __name__ == "__main__":  # worker processes import this file: start the cluster once
    X, y = spirals(4000, seed=0)
    net = pk.MLP([2, 32, 32, 2], activation="tanh", output="softmax",
                 loss="cross_entropy", seed=0)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        sharded = net.objective(X, y, l2=1e-4, executor=client, shards=4)
        local = net.objective(X, y, l2=1e-4)
        print(sharded)
        print(f"loss at theta_0: sharded {sharded.fun(net.theta):.15f}, "
              f"local {local.fun(net.theta):.15f}")
        res = pk.minimize(sharded, net.theta, method="newton-cg", maxiter=30)
        print(f"newton-cg on the cluster: loss {res.fun:.4f} after {res.nit} iterations, "
              f"{res.nhev} sharded Hessian-vector products, {res.time:.2f} s")
        net.theta = res.x
        print(f"training accuracy: {np.mean(net.predict(X).argmax(axis=1) == y):.3f}")
