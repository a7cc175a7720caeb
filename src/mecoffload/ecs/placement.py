"""EdgeCloudSim's getVmToOffload, vectorised: the VM of every task whose upload ends now.

Tasks choosing from the same VM list of one environment are decided as one after the other:
with NEXT_FIT and WORST_FIT the j-th task of the group takes the j-th VM of the order (with the
edge orchestrator's NEXT_FIT, the next server; past the last VM the order wraps around), with
FIRST_FIT and BEST_FIT the tasks are decided one per pass, RANDOM_FIT draws are independent.
An exact admission check per VM (cumulative, in time order) follows; a task that lost a race
is decided again in the next pass, on the updated loads. A task with no VM that can take it
fails (``vm_capacity``). Utilisation in %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tiers.arrays import group_cumsum, run_starts
from ..tiers.outcomes import R_VM
from .rules import K_CONC, K_SINGLE, K_SPREAD, R_FIXED, R_NEXT_DC, R_NEXT_EO, R_RANDOM_DC, R_RANDOM_EO, R_WORST, RULE_KIND

CLOUD = 1

# selection keys (lower is chosen): BEST_FIT least free first, WORST_FIT most free first,
# ties and FIRST_FIT by VM order (EdgeCloudSim's strict comparisons keep the first VM)
RULE_FREE_COEF = np.array([0.0, 0.0, 0.0, 1e6, -1e6, 0.0, 0.0, 0.0])
RULE_INDEX_KEY = np.array([True, False, False, True, True, False, False, True])


@dataclass
class _Batch:
    """Tasks to place, grouped by (environment, VM list), with their static candidate data:
    list columns ``cs`` (W wide, ``valid``), VM rows, requirements ``req`` and key parts."""

    ids: np.ndarray
    b: np.ndarray
    list_id: np.ndarray
    gk: np.ndarray
    kind: np.ndarray
    W: int
    cs: np.ndarray
    valid: np.ndarray
    rows: np.ndarray
    req: np.ndarray
    static: np.ndarray
    coef: np.ndarray
    nxt_dc: np.ndarray
    nxt_eo: np.ndarray
    wide_eo: np.ndarray


class VmPlacement:
    """Mixin of :class:`~.engine.EcsSim`: stage 2 of a task's life (VM choice at upload end)."""

    def _decide(self, ids: np.ndarray, entries: list) -> None:
        """getVmToOffload for tasks whose upload ends now, in time order; placed tasks are
        appended to ``entries`` as (VM rows, task ids)."""
        ids = ids[np.argsort(self.t_ready[ids], kind="stable")]
        b = self.env[ids]
        m = self.env_mode[b]
        cloud = self.tier[ids] == CLOUD
        # EdgeCloudSim looks the device up when the upload ends (ap_ready)
        list_id = self.lists.list_id(self.fixed_vm[ids], cloud, self.m_global[m], self.ap_ready[ids])
        rule = np.where(self.fixed_vm[ids] >= 0, R_FIXED, np.where(cloud, R_WORST, self.m_rule[m]))
        bt = self._batch(ids, b, list_id, rule)
        todo = np.arange(ids.size)
        while todo.size:
            self.passes += 1
            todo = self._choice_pass(bt, todo, entries)

    def _batch(self, ids: np.ndarray, b: np.ndarray, list_id: np.ndarray, rule: np.ndarray) -> _Batch:
        vl = self.lists
        gk = b * vl.L + list_id
        o = np.argsort(gk, kind="stable")  # groups (environment x VM list) contiguous, time order inside
        ids, b, list_id, rule, gk = ids[o], b[o], list_id[o], rule[o], gk[o]
        W = int(vl.list_len[list_id].max())
        cs = vl.list_vms[list_id, :W]
        valid = cs >= 0
        cs = np.where(valid, cs, 0)
        static = np.where(RULE_INDEX_KEY[rule][:, None], cs, 0).astype(float)
        rnd = (rule == R_RANDOM_DC) | (rule == R_RANDOM_EO)
        if rnd.any():
            N = vl.n_servers
            u = self.u2[ids]
            eo = rule == R_RANDOM_EO
            d = np.where(eo, np.minimum((u * N).astype(np.int64), N - 1), np.minimum(list_id, N - 1))
            frac = np.where(eo, u * N - np.floor(u * N), u)
            drawn = vl.dc_first[d] + np.minimum((frac * vl.dc_size[d]).astype(np.int64), vl.dc_size[d] - 1)
            static = np.where(rnd[:, None] & (cs != drawn[:, None]), np.inf, static)
        nxt_eo = rule == R_NEXT_EO
        return _Batch(ids=ids, b=b, list_id=list_id, gk=gk, kind=RULE_KIND[rule], W=W, cs=cs, valid=valid,
                      rows=b[:, None] * vl.n_vm + cs, req=self.req_tab[self.app[ids][:, None], cs], static=static,
                      coef=RULE_FREE_COEF[rule][:, None], nxt_dc=rule == R_NEXT_DC, nxt_eo=nxt_eo,
                      wide_eo=nxt_eo & (W == vl.n_vm_edge))

    def _choice_pass(self, bt: _Batch, todo: np.ndarray, entries: list) -> np.ndarray:
        """One pass over the undecided rows ``todo`` (FIRST_FIT / BEST_FIT: the first of each
        group only); returns the rows to decide again."""
        _, start = run_starts(bt.gk[todo])
        rank = np.arange(todo.size) - start
        sel = (bt.kind[todo] != K_CONC) | (rank == 0)
        if sel.all():
            r, j, rest, st = todo, rank, todo[:0], start
        else:
            r, j, rest = todo[sel], rank[sel], todo[~sel]
            _, st = run_starts(bt.gk[r])
        free = 100.0 - self.vms.util[bt.rows[r]]
        feas = bt.valid[r] & (bt.req[r] <= free + 1e-9)
        anyf = feas.any(1)
        key = np.where(feas, self._keys(bt, r, free), np.inf)
        col = self._columns(bt, r, j, st, key, anyf)
        has = np.isfinite(key[np.arange(r.size), col])
        single = bt.kind[r] == K_SINGLE
        rej = ~anyf | (single & ~has)
        retry = ~rej & ~has
        c = np.flatnonzero(has)
        if c.size:
            self._admit(bt, r, c, col, free, single, rej, retry, entries)
        if rej.any():
            bad = bt.ids[r[rej]]
            self._fail(bad, R_VM, self.t_ready[bad])
        return np.sort(np.concatenate([r[retry], rest])) if rest.size else r[retry]

    def _keys(self, bt: _Batch, r: np.ndarray, free: np.ndarray) -> np.ndarray:
        """(rows, W) selection key of every candidate (lower is chosen; NEXT_FIT: the cyclic
        distance after the pointer(s))."""
        vl = self.lists
        key = bt.static[r] + bt.coef[r] * free
        br = bt.b[r]
        sd = bt.nxt_dc[r]
        if sd.any():
            li = bt.list_id[r[sd]]
            key[sd] = vl.cyc_lut[vl.dc_size[li], self.ptr_vm[br[sd], li] + 1, :bt.W]
        se = bt.wide_eo[r]
        if se.any():
            be = br[se]
            ptr = self.ptr_vm[be][:, vl.edge_block]
            cyc = (vl.edge_pos[None, :] - ptr - 1) % vl.edge_size[None, :]
            host = vl.host_lut[self.ptr_dc[be] + 1][:, vl.edge_block]
            key[se] = host * (vl.n_vm + 1) + cyc
        return key

    def _columns(self, bt: _Batch, r: np.ndarray, j: np.ndarray, st: np.ndarray, key: np.ndarray,
                 anyf: np.ndarray) -> np.ndarray:
        """The chosen list column of every row: the best key; the j-th task of a NEXT_FIT /
        WORST_FIT group (counting those that can be placed at all) takes the j-th VM of its
        order (the edge orchestrator's NEXT_FIT: the first VM of the j-th server); past the
        last one the order wraps around."""
        vl = self.lists
        col = np.argmin(key, axis=1)
        spread = bt.kind[r] == K_SPREAD
        jj = np.where(spread, j, 0)
        if jj.max(initial=0) > 0:
            ok = spread & anyf
            if not ok[spread].all():
                cs_ = np.cumsum(ok)
                jj = np.where(ok, cs_ - 1 - (cs_[st] - ok[st]), 0)
            sub = np.flatnonzero(jj > 0)
            if sub.size:
                ks = key[sub]
                we = bt.wide_eo[r[sub]]
                if we.any():
                    ke = ks[we]
                    hmin = np.minimum.reduceat(ke, vl.edge_block_start, axis=1)
                    ks[we] = np.where(np.isfinite(ke) & (ke == hmin[:, vl.edge_block]), ke, np.inf)
                nf = np.maximum(np.isfinite(ks).sum(1), 1)
                col[sub] = np.argsort(ks, axis=1)[np.arange(sub.size), jj[sub] % nf]
        return col

    def _admit(self, bt: _Batch, r: np.ndarray, c: np.ndarray, col: np.ndarray, free: np.ndarray,
               single: np.ndarray, rej: np.ndarray, retry: np.ndarray, entries: list) -> None:
        """Rows ``c`` (of ``r``) chose a VM: admit them per VM in time order while they fit
        (losers: ``rej`` for RANDOM_FIT / fixed, else ``retry``); move the NEXT_FIT pointers."""
        vl, V = self.lists, self.lists.n_vm
        rc = r[c]
        cc = col[c]
        vc = bt.cs[rc, cc]
        g = bt.b[rc] * V + vc
        rq = bt.req[rc, cc]
        gs = np.sort(g)
        if (gs[1:] == gs[:-1]).any():  # several tasks chose one VM: admit them in time order while they fit
            adm = group_cumsum(g, rq) <= free[c, cc] + 1e-9
            over = c[~adm]
            rej[over[single[over]]] = True
            retry[over[~single[over]]] = True
            rc, vc, g, rq = rc[adm], vc[adm], g[adm], rq[adm]
        if rc.size == 0:
            return
        np.add.at(self.vms.util, g, rq)
        io = bt.ids[rc]
        self.vm[io] = vc
        entries.append((g, io))
        upd = (bt.nxt_dc[rc] | bt.nxt_eo[rc]) & ~vl.vm_cloud[vc]
        if upd.any():
            ru, vu = rc[upd], vc[upd]
            bu, du = bt.b[ru], vl.vm_dc[vu]
            last = self._last(bu * vl.n_servers + du, ru)
            self.ptr_vm[bu[last], du[last]] = vl.vm_pos[vu[last]]
            eo = bt.nxt_eo[ru]
            if eo.any():
                last = self._last(bu[eo], ru[eo])
                self.ptr_dc[bu[eo][last]] = du[eo][last]

    def _last(self, key: np.ndarray, order: np.ndarray) -> np.ndarray:
        """Mask of the rows holding, per key, the largest ``order`` (the last decision)."""
        scratch = self._scratch
        scratch[key] = -1
        np.maximum.at(scratch, key, order)
        return scratch[key] == order
