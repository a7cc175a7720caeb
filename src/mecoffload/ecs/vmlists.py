"""The VM lists EdgeCloudSim's getVmToOffload chooses from, built from the shared
:class:`~mecoffload.tiers.workload.Layout` (VMs numbered edge server by edge server, then the
cloud), and the NEXT_FIT cyclic-distance tables.

List ids: 0..N-1 the VMs of edge server d (SINGLE_TIER, TWO_TIER), N all edge VMs (edge
orchestrator), N+1 the cloud VMs, then N+2+v the single VM v (a tier policy's fixed choice).
"""

from __future__ import annotations

import numpy as np

from ..tiers.workload import Layout


class VmLists:
    """Static VM structure of one scenario (the same in every environment)."""

    def __init__(self, lay: Layout):
        N = self.n_servers = lay.n_servers  # edge servers (= access points), numbered as the datacenters
        self.vm_dc = lay.vm_dc
        self.vm_cloud = lay.vm_cloud
        V = self.n_vm = lay.n_vm
        self.n_vm_edge = Ve = int((~self.vm_cloud).sum())  # edge VMs (numbered first)
        self.has_cloud = bool(self.vm_cloud.any())
        self.vm_cores = lay.vm_cores
        self.vm_cap = lay.vm_capacity  # total MIPS of each VM
        self.dc_size = np.bincount(self.vm_dc[~self.vm_cloud], minlength=N)
        self.dc_first = np.concatenate([[0], np.cumsum(self.dc_size)[:-1]]).astype(np.int64)
        self.vm_pos = np.arange(V) - np.where(self.vm_cloud, Ve, self.dc_first[np.minimum(self.vm_dc, N - 1)])
        self.vm_dc_safe = np.where(self.vm_cloud, 0, self.vm_dc)
        self.dc_size_vm = np.maximum(self.dc_size[self.vm_dc_safe], 1)
        L = self.L = N + 2 + V
        lists = [np.flatnonzero(self.vm_dc == d) for d in range(N)]
        lists += [np.flatnonzero(~self.vm_cloud), np.flatnonzero(self.vm_cloud)] + [np.array([v]) for v in range(V)]
        W = max(len(x) for x in lists)
        self.list_vms = np.full((L, max(W, 1)), -1, np.int64)
        for i, x in enumerate(lists):
            self.list_vms[i, :len(x)] = x
        self.list_len = np.array([len(x) for x in lists])
        self.edge_block_start = self.dc_first.copy()  # columns of the all-edge list, one block per server
        self.edge_block = self.vm_dc[:Ve]
        self.edge_pos = self.vm_pos[:Ve]
        self.edge_size = self.dc_size_vm[:Ve]
        # NEXT_FIT cyclic distances: cyc_lut[size, pointer + 1, position], host_lut[pointer + 1, server]
        S = int(self.dc_size.max(initial=1))
        sz, pt, ps = np.meshgrid(np.arange(S + 1), np.arange(-1, S), np.arange(max(S, W)), indexing="ij")
        self.cyc_lut = np.where(sz > 0, (ps - pt - 1) % np.maximum(sz, 1), 0).astype(float)
        hp, hd = np.meshgrid(np.arange(-1, N), np.arange(N), indexing="ij")
        self.host_lut = ((hd - hp - 1) % max(N, 1)).astype(float)

    def list_id(self, fixed: np.ndarray, cloud: np.ndarray, global_: np.ndarray, ap: np.ndarray) -> np.ndarray:
        """The list a task chooses from: its fixed VM, the cloud, all edge VMs or its server's."""
        N = self.n_servers
        return np.where(fixed >= 0, N + 2 + fixed, np.where(cloud, N + 1, np.where(global_, N, ap)))
